/**
 * Shadow differences: per-route comparison counts, the recent mismatches (live), and one
 * mismatch in full: the request, the differences found, and both responses side by side.
 */
import { api } from './api.js';
import { formatCount, formatPercent, formatTime, h, replace } from './dom.js';
import { prettyBody, sideBySide } from './diff.js';

export function createShadowView({ counts, list, select, detail }) {
  let items = [];
  let selected = null;
  let routeIds = '';

  select.addEventListener('change', () => {
    void load();
  });

  async function load() {
    const route = select.value;
    const query = route ? `?route=${encodeURIComponent(route)}&limit=50` : '?limit=50';
    try {
      const body = await api('GET', `/shadow/mismatches${query}`);
      items = body.items.map(summaryOf);
      renderList();
    } catch (failure) {
      replace(list, h('li', { class: 'error' }, failure.message));
    }
  }

  function summaryOf(mismatch) {
    return {
      id: mismatch.id,
      routeId: mismatch.routeId,
      at: mismatch.at,
      method: mismatch.request.method,
      path: mismatch.request.path,
      primaryStatus: mismatch.primary.status,
      candidateStatus: mismatch.candidate.status,
      differences: mismatch.differences.length,
    };
  }

  /** New mismatches from the live stream. */
  function add(summaries) {
    const route = select.value;
    const fresh = summaries.filter((s) => !route || s.routeId === route);
    if (fresh.length === 0) return;
    const known = new Set(items.map((item) => item.id));
    items = [...fresh.filter((s) => !known.has(s.id)).reverse(), ...items].slice(0, 50);
    renderList();
  }

  function renderList() {
    if (items.length === 0) {
      replace(
        list,
        h(
          'li',
          { class: 'quiet' },
          'No mismatches recorded. Put a route in shadow mode to compare.',
        ),
      );
      return;
    }
    replace(
      list,
      items.map((item) =>
        h(
          'li',
          {},
          h(
            'button',
            {
              type: 'button',
              'aria-pressed': String(selected === item.id),
              'data-mismatch': item.id,
              onclick: () => void open(item.id),
            },
            h('span', {}, formatTime(item.at)),
            h('span', {}, item.routeId),
            h('span', { class: 'mono' }, `${item.method} ${item.path}`),
            h(
              'span',
              {},
              `${item.differences} difference${item.differences === 1 ? '' : 's'} · ${item.primaryStatus}/${item.candidateStatus}`,
            ),
          ),
        ),
      ),
    );
  }

  async function open(id) {
    selected = id;
    renderList();
    detail.hidden = false;
    replace(detail, h('p', { role: 'status' }, 'loading…'));
    let mismatch;
    try {
      mismatch = await api('GET', `/shadow/mismatches/${id}`);
    } catch (failure) {
      replace(detail, h('p', { class: 'error' }, failure.message));
      return;
    }
    const heading = h('h3', { tabindex: '-1' }, `Mismatch #${mismatch.id} on ${mismatch.routeId}`);
    const requestText = [
      `${mismatch.request.method} ${mismatch.request.path}`,
      ...Object.entries(mismatch.request.headers).map(([name, value]) => `${name}: ${value}`),
    ].join('\n');
    const differences = h(
      'table',
      { 'aria-label': 'Differences' },
      h(
        'thead',
        {},
        h('tr', {}, h('th', {}, 'where'), h('th', {}, 'monolith'), h('th', {}, 'new service')),
      ),
      h(
        'tbody',
        {},
        mismatch.differences.map((d) =>
          h(
            'tr',
            {},
            h('td', { class: 'mono' }, d.path),
            h('td', { class: 'mono' }, show(d.primary)),
            h('td', { class: 'mono' }, show(d.candidate)),
          ),
        ),
      ),
    );
    replace(
      detail,
      heading,
      h('p', { class: 'quiet' }, formatTime(mismatch.at)),
      h('h4', {}, 'Request'),
      h('pre', { class: 'request' }, requestText),
      h('h4', {}, 'Differences found'),
      differences,
      h('h4', {}, 'Responses side by side'),
      responses(mismatch.primary, mismatch.candidate),
    );
    heading.focus();
  }

  function show(value) {
    return value === undefined ? '(absent)' : JSON.stringify(value);
  }

  function describe(response) {
    const headers = Object.entries(response.headers)
      .map(([name, value]) => `${name}: ${value}`)
      .join('\n');
    const body =
      response.bodyEncoding === 'utf8'
        ? prettyBody(response.body)
        : `(binary, base64)\n${response.body}`;
    return `HTTP ${response.status}\n${headers}\n\n${body}${response.bodyTruncated ? '\n… (truncated)' : ''}`;
  }

  function responses(primary, candidate) {
    const rows = sideBySide(describe(primary), describe(candidate));
    const cls = (kind, side) =>
      kind === 'same'
        ? ''
        : kind === 'changed'
          ? side === 'left'
            ? 'del'
            : 'add'
          : kind === 'removed'
            ? side === 'left'
              ? 'del'
              : 'gap'
            : side === 'left'
              ? 'gap'
              : 'add';
    return h(
      'div',
      {
        class: 'diff-wrap',
        tabindex: '0',
        'aria-label': 'Responses side by side; monolith left, new service right',
      },
      h(
        'table',
        { class: 'diff' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', { scope: 'col' }, 'monolith'),
            h('th', { scope: 'col' }, 'new service'),
          ),
        ),
        h(
          'tbody',
          {},
          rows.map((row) =>
            h(
              'tr',
              { 'data-kind': row.kind },
              h('td', { class: cls(row.kind, 'left') }, row.left ?? ''),
              h('td', { class: cls(row.kind, 'right') }, row.right ?? ''),
            ),
          ),
        ),
      ),
    );
  }

  /** Counts per route from the stats snapshot. */
  function renderCounts(overview) {
    const routes = overview.routes.filter(
      (r) => r.mode === 'shadow' || r.shadow.matches + r.shadow.mismatches + r.shadow.errors > 0,
    );
    const ids = overview.routes.map((r) => r.id).join(',');
    if (ids !== routeIds) {
      routeIds = ids;
      const current = select.value;
      replace(
        select,
        h('option', { value: '' }, 'all routes'),
        overview.routes.map((r) => h('option', { value: r.id, selected: r.id === current }, r.id)),
      );
    }
    if (routes.length === 0) {
      replace(
        counts,
        h('p', { class: 'quiet' }, 'No route is in shadow mode and nothing has been compared yet.'),
      );
      return;
    }
    replace(
      counts,
      h(
        'table',
        { 'aria-label': 'Comparisons per route' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', {}, 'route'),
            h('th', { class: 'num' }, 'matches'),
            h('th', { class: 'num' }, 'mismatches'),
            h('th', { class: 'num' }, 'ignored differences'),
            h('th', { class: 'num' }, 'service errors'),
            h('th', { class: 'num' }, 'match rate'),
          ),
        ),
        h(
          'tbody',
          {},
          routes.map((r) =>
            h(
              'tr',
              {},
              h('td', {}, r.id),
              h('td', { class: 'num' }, formatCount(r.shadow.matches)),
              h('td', { class: 'num' }, formatCount(r.shadow.mismatches)),
              h('td', { class: 'num' }, formatCount(r.shadow.ignoredDifferences)),
              h('td', { class: 'num' }, formatCount(r.shadow.errors)),
              h('td', { class: 'num' }, formatPercent(r.shadow.matchRate)),
            ),
          ),
        ),
      ),
    );
  }

  return { load, add, renderCounts };
}
