/**
 * The routes table: one row per route, refreshed in place from each stats snapshot (a few hundred
 * rows stay cheap: rows are kept by id and only changed text is written), a dialog to change a
 * route's mode and weight with a reason, and a detail panel with the route's charts.
 */
import { api } from './api.js';
import { createRouteCharts } from './charts.js';
import { formatMs, formatPercent, formatRate, h, modeBadge, replace, setText } from './dom.js';

export function createRoutesView({ table, filter, detail, dialog, onChanged }) {
  const tbody = table.tBodies[0];
  const rows = new Map();
  let order = '';
  let overview = null;
  let openDetail = null;

  filter.addEventListener('input', applyFilter);

  function applyFilter() {
    const query = filter.value.trim().toLowerCase();
    for (const [id, row] of rows) {
      row.tr.hidden = Boolean(query) && !`${id} ${row.path}`.toLowerCase().includes(query);
    }
  }

  function buildRow(route) {
    const cells = {
      route: h('td'),
      mode: h('td'),
      target: h('td'),
      legacy: h('td', { class: 'num' }),
      fresh: h('td', { class: 'num' }),
      shadow: h('td', { class: 'num' }),
      guard: h('td'),
    };
    const change = h(
      'button',
      { type: 'button', class: 'small', 'data-action': 'change' },
      'Change…',
    );
    const details = h(
      'button',
      { type: 'button', class: 'small secondary', 'data-action': 'details' },
      'Charts',
    );
    change.addEventListener('click', () => openChange(route.id, change));
    details.addEventListener('click', () => showDetail(route.id));
    const tr = h(
      'tr',
      { 'data-route': route.id },
      cells.route,
      cells.mode,
      cells.target,
      cells.legacy,
      cells.fresh,
      cells.shadow,
      cells.guard,
      h('td', { class: 'actions' }, change, details),
    );
    return { tr, cells, path: route.path, key: '' };
  }

  function sideText(side) {
    if (!side || side.requests === 0) return '—';
    return `${formatRate(side.rps)} · ${formatPercent(side.errorRate)} · ${formatMs(side.p99Ms)}`;
  }

  function fillRow(row, route) {
    const key = `${route.mode}|${route.weight}|${route.service}|${route.target}|${route.methods}|${route.path}|${route.guard?.state.tripped}`;
    if (row.key !== key) {
      row.key = key;
      row.path = route.path;
      replace(
        row.cells.route,
        h('div', { class: 'route-id' }, route.id),
        h(
          'div',
          { class: 'route-path mono' },
          `${route.methods ? route.methods.join(',') : 'ANY'} ${route.path}`,
        ),
      );
      replace(row.cells.mode, modeBadge(route.mode, route.weight));
      replace(
        row.cells.target,
        route.service
          ? [
              h('div', {}, route.service),
              h('div', { class: 'route-path mono' }, route.target ?? ''),
            ]
          : h('span', { class: 'quiet' }, 'monolith only'),
      );
    }
    setText(row.cells.legacy, sideText(route.traffic.legacy));
    const fresh = route.mode === 'shadow' ? route.traffic.shadow : route.traffic.new;
    setText(
      row.cells.fresh,
      `${route.mode === 'shadow' && fresh.requests ? 'shadow: ' : ''}${sideText(fresh)}`,
    );
    row.cells.fresh.classList.toggle('bad', fresh.errorRate > 0.05);
    const s = route.shadow;
    setText(
      row.cells.shadow,
      s.matches + s.mismatches === 0
        ? '—'
        : `${formatPercent(s.matchRate)} (${s.mismatches} diff${s.mismatches === 1 ? '' : 's'})`,
    );
    row.cells.shadow.classList.toggle('bad', s.matchRate !== null && s.matchRate < 1);
    setText(row.cells.guard, guardText(route.guard));
    row.cells.guard.classList.toggle('bad', Boolean(route.guard?.state.tripped));
  }

  function guardText(guard) {
    if (!guard) return 'none';
    const { state, config } = guard;
    if (state.tripped) return `tripped: ${state.reason ?? ''}`;
    if (state.requests === 0)
      return `watching (≤${formatPercent(config.maxErrorRate, 0)} errors, p99 ≤${config.maxP99Ms} ms)`;
    return `ok: ${formatPercent(state.errorRate)} errors, p99 ${formatMs(state.p99Ms)} over ${state.requests}`;
  }

  function render(next) {
    overview = next;
    const ids = next.routes.map((route) => route.id).join('\n');
    if (ids !== order) {
      order = ids;
      const fresh = new Map();
      for (const route of next.routes) fresh.set(route.id, rows.get(route.id) ?? buildRow(route));
      rows.clear();
      for (const [id, row] of fresh) rows.set(id, row);
      tbody.replaceChildren(...[...rows.values()].map((row) => row.tr));
      applyFilter();
    }
    for (const route of next.routes) fillRow(rows.get(route.id), route);
    if (openDetail) openDetail.refresh();
  }

  // ------------------------------------------------------------------ change dialog
  const form = dialog.querySelector('form');
  const weight = form.elements.namedItem('weight');
  const reason = form.elements.namedItem('reason');
  const error = dialog.querySelector('#change-error');
  const submit = dialog.querySelector('#change-submit');
  const title = dialog.querySelector('#change-title');
  let changing = null;

  dialog.querySelector('#change-cancel').addEventListener('click', () => dialog.close());
  dialog.addEventListener('close', () => changing?.opener.focus());

  function openChange(id, opener) {
    const route = overview?.routes.find((r) => r.id === id);
    if (!route) return;
    changing = { id, opener, route };
    title.textContent = `Change route ${id}`;
    for (const input of form.elements.namedItem('mode')) input.checked = input.value === route.mode;
    weight.value = String(route.weight);
    reason.value = '';
    error.textContent = '';
    dialog.showModal();
    reason.focus();
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void (async () => {
      if (!changing) return;
      const mode = form.elements.namedItem('mode').value;
      const body = { mode, reason: reason.value };
      const newWeight = Number(weight.value);
      if (weight.value !== '' && newWeight !== changing.route.weight) body.weight = newWeight;
      submit.disabled = true;
      error.textContent = '';
      try {
        const version = await api('PATCH', `/routes/${encodeURIComponent(changing.id)}`, body);
        dialog.close();
        onChanged(version);
      } catch (failure) {
        error.textContent = failure.message;
      } finally {
        submit.disabled = false;
      }
    })();
  });

  // ------------------------------------------------------------------ detail with charts
  function showDetail(id) {
    openDetail?.close();
    detail.hidden = false;
    const heading = h('h3', { tabindex: '-1' }, `Route ${id} — last 30 minutes`);
    const close = h('button', { type: 'button', class: 'secondary small' }, 'Close charts');
    const status = h('p', { class: 'quiet', role: 'status' }, 'loading…');
    const chartBox = h('div', { class: 'charts' });
    replace(detail, h('div', { class: 'detail-head' }, heading, close), status, chartBox);
    const charts = createRouteCharts(chartBox);
    let fetched = 0;
    let loading = false;
    const load = async () => {
      if (loading) return;
      loading = true;
      try {
        const series = await api('GET', `/series/${encodeURIComponent(id)}`);
        charts.update(series);
        fetched = Date.now();
        status.textContent = `10-second buckets; updated ${new Date().toLocaleTimeString('en-GB')}`;
      } catch (failure) {
        status.textContent = failure.message;
      } finally {
        loading = false;
      }
    };
    openDetail = {
      id,
      refresh() {
        if (Date.now() - fetched >= 5000) void load();
      },
      close() {
        charts.destroy();
        detail.hidden = true;
        replace(detail);
        openDetail = null;
      },
    };
    close.addEventListener('click', () => {
      openDetail?.close();
      rows.get(id)?.tr.querySelector('[data-action=details]')?.focus();
    });
    heading.focus();
    void load();
  }

  return { render };
}
