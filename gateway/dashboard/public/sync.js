/**
 * Data sync: the CDC connector (state, slot lag, events/s over time, per-table counts) and each
 * extracted service (state, lag, carried tables, the latest reconciliation, a button to run one).
 */
import { api } from './api.js';
import { createChart } from './charts.js';
import { formatBytes, formatCount, formatMs, formatTime, h, replace } from './dom.js';

export function createSyncView(container) {
  const cdcBox = h('div', { class: 'card' });
  const chartBox = h('div', { class: 'charts' });
  const servicesBox = h('div', { class: 'sync-grid' });
  container.append(cdcBox, h('h3', {}, 'Extracted services'), servicesBox);
  let charts = null;
  /** Reconciliations run from this page, newer than what the last status said. */
  const ran = new Map();
  const busy = new Set();
  const failures = new Map();
  let last = null;

  function render(report) {
    last = report;
    // Re-rendering must not take the keyboard focus away from a service's button.
    const active = document.activeElement;
    const focused =
      active?.dataset?.action === 'reconcile'
        ? active.closest('[data-service]')?.dataset.service
        : undefined;
    renderCdc(report.cdc);
    renderServices(report.services);
    if (focused !== undefined) {
      container
        .querySelector(`[data-service="${CSS.escape(focused)}"] [data-action=reconcile]`)
        ?.focus();
    }
  }

  function renderCdc(cdc) {
    if (!cdc) {
      replace(
        cdcBox,
        h('h3', {}, 'Change data capture'),
        h(
          'p',
          { class: 'quiet' },
          'The gateway has no CDC status URL. Start it with --cdc-status-url http://127.0.0.1:3200/status (or FICUS_CDC_STATUS_URL).',
        ),
      );
      return;
    }
    const status = cdc.available ? cdc.status : null;
    const facts = status
      ? [
          ['state', status.state],
          ['slot', status.slot ?? '—'],
          ['sink', status.sink ?? '—'],
          ['slot lag', formatBytes(status.slotLagBytes)],
          ['behind source', formatMs(status.millisBehindSource)],
          ['events/s (10 s)', formatCount(Math.round((status.eventsPerSecond ?? 0) * 10) / 10)],
          ['events since start', formatCount(status.totalEvents)],
          ...(status.lastError ? [['last error', status.lastError]] : []),
        ]
      : [['status', `unavailable: ${cdc.error}`]];
    const tables = status?.tables ? Object.entries(status.tables) : [];
    if (!charts) charts = { events: null };
    replace(
      cdcBox,
      h('h3', {}, 'Change data capture'),
      h('p', { class: 'quiet mono' }, cdc.url),
      h(
        'dl',
        { class: 'facts' },
        facts.map(([k, v]) => [
          h('dt', {}, k),
          h('dd', { class: k === 'state' && v !== 'streaming' ? 'bad' : '' }, v),
        ]),
      ),
      chartBox,
      tables.length
        ? h(
            'table',
            { 'aria-label': 'Change events per table' },
            h(
              'thead',
              {},
              h(
                'tr',
                {},
                h('th', {}, 'table'),
                ...['c', 'u', 'd', 'r', 't'].map((op) =>
                  h('th', { class: 'num', title: opName(op) }, opName(op)),
                ),
              ),
            ),
            h(
              'tbody',
              {},
              tables.map(([table, counts]) =>
                h(
                  'tr',
                  {},
                  h('td', {}, table),
                  ...['c', 'u', 'd', 'r', 't'].map((op) =>
                    h('td', { class: 'num' }, formatCount(counts[op] ?? 0)),
                  ),
                ),
              ),
            ),
          )
        : null,
    );
    if (!charts.events) {
      charts.events = createChart(chartBox, {
        title: 'Events per second and slot lag',
        series: [
          { label: 'events/s', colour: 'new' },
          { label: 'slot lag (KiB)', colour: 'legacy' },
        ],
        height: 160,
      });
    }
    const samples = cdc.samples;
    if (samples.length > 0) {
      charts.events.update([
        samples.map((s) => s.t / 1000),
        samples.map((s) => s.eventsPerSecond),
        samples.map((s) => (s.slotLagBytes === null ? null : s.slotLagBytes / 1024)),
      ]);
    }
  }

  function opName(op) {
    return { c: 'inserts', u: 'updates', d: 'deletes', r: 'snapshot reads', t: 'truncates' }[op];
  }

  function renderServices(services) {
    if (services.length === 0) {
      replace(servicesBox, h('p', { class: 'quiet' }, 'The route table names no services.'));
      return;
    }
    replace(servicesBox, services.map(serviceCard));
  }

  function serviceCard(service) {
    const heading = h(
      'h4',
      {},
      `${service.name} `,
      h('span', { class: 'quiet mono' }, service.url),
    );
    if (!service.available) {
      return h(
        'article',
        { class: 'card', 'data-service': service.name },
        heading,
        h('p', { class: 'quiet' }, `status unavailable (${service.error})`),
      );
    }
    const status = service.status;
    const lag = status.lag ?? {};
    const reconciliation = ran.get(service.name) ?? status.reconciliation ?? null;
    const button = h(
      'button',
      {
        type: 'button',
        class: 'small',
        disabled: busy.has(service.name),
        'data-action': 'reconcile',
      },
      busy.has(service.name) ? 'Reconciling…' : 'Run reconciliation',
    );
    const outcome = h('p', { class: 'error', role: 'alert' }, failures.get(service.name) ?? '');
    button.addEventListener('click', () => void reconcile(service.name));
    return h(
      'article',
      { class: 'card', 'data-service': service.name },
      heading,
      h(
        'dl',
        { class: 'facts' },
        h('dt', {}, 'state'),
        h('dd', { class: status.state === 'running' ? '' : 'bad' }, status.state),
        h('dt', {}, 'source'),
        h('dd', {}, status.source?.kind ?? '—'),
        h('dt', {}, 'events applied'),
        h('dd', {}, formatCount(lag.eventsApplied)),
        h('dt', {}, 'behind source'),
        h('dd', {}, formatMs(lag.millisBehindSource)),
        h('dt', {}, 'events behind'),
        h('dd', {}, formatCount(lag.eventsBehind)),
      ),
      status.tables?.length
        ? h(
            'table',
            { 'aria-label': `Tables carried by ${service.name}` },
            h(
              'thead',
              {},
              h(
                'tr',
                {},
                h('th', {}, 'carried table'),
                h('th', {}, 'source'),
                h('th', { class: 'num' }, 'rows'),
              ),
            ),
            h(
              'tbody',
              {},
              status.tables.map((t) =>
                h(
                  'tr',
                  {},
                  h('td', {}, t.table),
                  h('td', { class: 'mono' }, t.source ?? ''),
                  h('td', { class: 'num' }, formatCount(t.rows)),
                ),
              ),
            ),
          )
        : null,
      h('h4', {}, 'Reconciliation'),
      reconciliation
        ? reconciliationView(reconciliation)
        : h('p', { class: 'quiet' }, 'none run yet'),
      button,
      outcome,
    );
  }

  function reconciliationView(r) {
    return h(
      'div',
      {},
      h(
        'p',
        {},
        h(
          'span',
          { class: r.inSync ? 'in-sync' : 'out-of-sync' },
          r.inSync ? 'in sync' : 'out of sync',
        ),
        ` · finished ${formatTime(r.finishedAt)}${r.durationMs !== undefined ? ` in ${formatMs(r.durationMs)}` : ''}`,
      ),
      h(
        'table',
        { 'aria-label': 'Reconciliation per table' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ...['table', 'source rows', 'carried rows', 'missing', 'extra', 'different', ''].map(
              (t, i) => h('th', { class: i > 0 && i < 6 ? 'num' : '' }, t),
            ),
          ),
        ),
        h(
          'tbody',
          {},
          r.tables.map((t) =>
            h(
              'tr',
              {},
              h('td', {}, t.table),
              h('td', { class: 'num' }, formatCount(t.sourceRows)),
              h('td', { class: 'num' }, formatCount(t.carriedRows)),
              h('td', { class: 'num' }, formatCount(t.missing)),
              h('td', { class: 'num' }, formatCount(t.extra)),
              h('td', { class: 'num' }, formatCount(t.different)),
              h(
                'td',
                { class: t.inSync ? 'in-sync' : 'out-of-sync' },
                t.inSync
                  ? 'in sync'
                  : `out of sync${
                      t.differences?.length
                        ? `: ${t.differences
                            .slice(0, 3)
                            .map((d) => `${d.kind} ${JSON.stringify(d.key)}`)
                            .join(', ')}`
                        : ''
                    }`,
              ),
            ),
          ),
        ),
      ),
    );
  }

  async function reconcile(name) {
    busy.add(name);
    failures.delete(name);
    if (last) render(last);
    try {
      ran.set(name, await api('POST', `/sync/services/${encodeURIComponent(name)}/reconcile`));
    } catch (failure) {
      failures.set(name, failure.message);
    }
    busy.delete(name);
    if (last) render(last);
    container
      .querySelector(`[data-service="${CSS.escape(name)}"] [data-action=reconcile]`)
      ?.focus();
  }

  return {
    render(report) {
      // A newer status from the service supersedes a reconciliation run here.
      for (const service of report.services) {
        const mine = ran.get(service.name);
        const theirs = service.available ? service.status.reconciliation : null;
        if (mine && theirs?.finishedAt && mine.finishedAt && theirs.finishedAt >= mine.finishedAt)
          ran.delete(service.name);
      }
      render(report);
    },
  };
}
