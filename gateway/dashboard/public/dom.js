/**
 * Small DOM and formatting helpers. Everything the page shows is set as text, never as HTML, so a
 * route id, a path or a response body cannot inject markup.
 */

/**
 * Creates an element: h('td', { class: 'num' }, 'text', child). Attributes starting with `on` are
 * listeners; `false`, null and undefined attributes are left out.
 */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      element.addEventListener(name.slice(2), value);
    } else if (name === 'class') {
      element.className = value;
    } else {
      element.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(element, child);
    else element.append(child instanceof Node ? child : String(child));
  }
}

/** Replaces an element's children. */
export function replace(element, ...children) {
  element.replaceChildren();
  append(element, children);
}

/** Sets text only when it changed (keeps big tables cheap to refresh). */
export function setText(element, text) {
  if (element.textContent !== text) element.textContent = text;
}

export function formatRate(rps) {
  if (!rps) return '0';
  if (rps < 0.1) return rps.toFixed(2);
  if (rps < 10) return rps.toFixed(1);
  return Math.round(rps).toLocaleString('en');
}

export function formatPercent(ratio, digits = 1) {
  if (ratio === null || ratio === undefined) return '—';
  return `${(ratio * 100).toFixed(digits)}%`;
}

export function formatMs(ms) {
  if (ms === null || ms === undefined) return '—';
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  if (ms < 10_000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(1)} s`;
}

export function formatBytes(bytes) {
  if (bytes === null || bytes === undefined) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

export function formatCount(value) {
  if (value === null || value === undefined) return '—';
  return Number(value).toLocaleString('en');
}

export function formatTime(iso) {
  if (!iso) return '—';
  const date = new Date(iso);
  return date.toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'medium' });
}

/** A mode badge. */
export function modeBadge(mode, weight) {
  return h('span', { class: `badge mode-${mode}` }, mode === 'canary' ? `canary ${weight}%` : mode);
}
