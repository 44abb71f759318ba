/** The tiles at the top: routes by mode, share on new services, what is still on the monolith. */
import { formatCount, formatPercent, h, replace } from './dom.js';

const MODES = ['legacy', 'shadow', 'canary', 'new'];

/** Renders `overview.progress` into `container`. */
export function renderProgress(container, overview) {
  const { progress } = overview;
  const total = overview.routes.length;
  const byMode = progress.routesByMode;
  const bar = h(
    'div',
    {
      class: 'modebar',
      role: 'img',
      'aria-label': MODES.map((m) => `${byMode[m]} ${m}`).join(', '),
    },
    MODES.filter((mode) => byMode[mode] > 0).map((mode) => {
      const segment = h('span', { class: `bg-${mode}`, title: `${byMode[mode]} ${mode}` });
      segment.style.width = `${(byMode[mode] / Math.max(1, total)) * 100}%`;
      return segment;
    }),
  );
  const modes = h(
    'section',
    { class: 'card tile', 'aria-label': 'Routes by mode' },
    h('h3', {}, 'Routes by mode'),
    h('div', { class: 'big' }, `${byMode.new} of ${total} on new`),
    bar,
    h(
      'div',
      { class: 'mode-counts' },
      MODES.map((mode) => h('span', { class: `mode-${mode}` }, `${mode} ${byMode[mode]}`)),
    ),
  );

  const { recent, sinceStart } = progress.share;
  const share = h(
    'section',
    { class: 'card tile', 'aria-label': 'Requests answered by new services' },
    h('h3', {}, 'Requests answered by new services'),
    h('div', { class: 'big', 'data-testid': 'share-recent' }, formatPercent(recent.ratio)),
    h(
      'div',
      { class: 'quiet' },
      `last ${Math.round(recent.seconds / 60)} min: ${formatCount(recent.newRequests)} of ${formatCount(recent.requests)}`,
    ),
    h(
      'div',
      { class: 'quiet' },
      `since the gateway started: ${formatPercent(sinceStart.ratio)} (${formatCount(sinceStart.newRequests)} of ${formatCount(sinceStart.requests)})`,
    ),
  );

  const legacy = progress.legacyRoutes;
  const monolith = h(
    'section',
    { class: 'card tile', 'aria-label': 'Still only on the monolith' },
    h('h3', {}, 'Still only on the monolith'),
    h('div', { class: 'big' }, `${legacy.length} route${legacy.length === 1 ? '' : 's'}`),
    legacy.length
      ? h(
          'ul',
          {},
          legacy.slice(0, 6).map((id) => h('li', {}, id)),
          legacy.length > 6 ? h('li', { class: 'quiet' }, `and ${legacy.length - 6} more`) : null,
        )
      : h('p', { class: 'quiet' }, 'every route has moved past legacy'),
  );

  const unclaimed = progress.unclaimed;
  const unclaimedTile = h(
    'section',
    { class: 'card tile', 'aria-label': 'Traffic no route claims' },
    h('h3', {}, 'Traffic no route claims (monolith only)'),
    h(
      'div',
      { class: 'big' },
      `${unclaimed.distinct} endpoint${unclaimed.distinct === 1 ? '' : 's'}`,
    ),
    h('div', { class: 'quiet' }, `${formatCount(unclaimed.totalRequests)} requests since start`),
    unclaimed.top.length
      ? h(
          'table',
          { 'aria-label': 'Busiest unclaimed paths' },
          h(
            'tbody',
            {},
            unclaimed.top
              .slice(0, 6)
              .map((t) =>
                h(
                  'tr',
                  {},
                  h('td', { class: 'mono' }, `${t.method} ${t.template}`),
                  h('td', { class: 'num' }, formatCount(t.requests)),
                ),
              ),
          ),
        )
      : null,
  );
  replace(container, modes, share, monolith, unclaimedTile);
}
