/**
 * The ficus migration dashboard. Signs in with the admin token (the gateway answers with an
 * HttpOnly session cookie), then listens to /_ficus/api/events for route-table changes, stats
 * snapshots every 2 s, new shadow mismatches and the sync status; it fetches only what a view
 * opens (a route's charts, a mismatch, the history).
 */
import { api, signIn, whenUnauthorized } from './api.js';
import { createHistoryView } from './history.js';
import { renderProgress } from './progress.js';
import { createRoutesView } from './routes.js';
import { createShadowView } from './shadow.js';
import { createSyncView } from './sync.js';

const $ = (selector) => document.querySelector(selector);
const VIEWS = ['routes', 'shadow', 'sync', 'history'];

let stream = null;
let view = 'routes';
let historyStale = true;
let shadowLoaded = false;
let lastOverview = null;

const routes = createRoutesView({
  table: $('#routes-table'),
  filter: $('#route-filter'),
  detail: $('#route-detail'),
  dialog: $('#change-dialog'),
  onChanged: afterChange,
});
const shadow = createShadowView({
  counts: $('#shadow-counts'),
  list: $('#mismatch-list'),
  select: $('#shadow-route'),
  detail: $('#mismatch-detail'),
});
const sync = createSyncView($('#sync'));
const history = createHistoryView({ list: $('#history'), onChanged: afterChange });

whenUnauthorized(() => {
  if (!$('#signed-in').hidden) showSignIn('Your session has ended; sign in again.');
});

function afterChange() {
  historyStale = true;
  if (view === 'history') void refreshHistory();
  // The stream's `routes` and `stats` events bring the table up to date; fetch once in case the
  // stream is reconnecting.
  void api('GET', '/overview').then(onOverview, () => {});
}

async function refreshHistory() {
  historyStale = false;
  await history.load();
}

function onOverview(overview) {
  lastOverview = overview;
  renderProgress($('#progress'), overview);
  routes.render(overview);
  if (view === 'shadow') shadow.renderCounts(overview);
}

function show(next) {
  view = VIEWS.includes(next) ? next : 'routes';
  for (const button of document.querySelectorAll('.tabs button')) {
    if (button.dataset.view === view) button.setAttribute('aria-current', 'page');
    else button.removeAttribute('aria-current');
  }
  for (const panel of document.querySelectorAll('[data-view-panel]')) {
    panel.hidden = panel.dataset.viewPanel !== view;
  }
  if (location.hash !== `#${view}`) history_replace(`#${view}`);
  if (view === 'history' && historyStale) void refreshHistory();
  if (view === 'shadow') {
    if (lastOverview) shadow.renderCounts(lastOverview);
    if (!shadowLoaded) {
      shadowLoaded = true;
      void shadow.load();
    }
  }
}

function history_replace(hash) {
  window.history.replaceState(null, '', hash);
}

for (const button of document.querySelectorAll('.tabs button')) {
  button.addEventListener('click', () => show(button.dataset.view));
}
window.addEventListener('hashchange', () => show(location.hash.slice(1)));

function connect() {
  stream?.close();
  const live = $('#live');
  stream = new EventSource('/_ficus/api/events');
  stream.addEventListener('open', () => {
    live.textContent = 'live';
    live.className = 'live on';
  });
  stream.addEventListener('error', () => {
    live.textContent = 'reconnecting…';
    live.className = 'live off';
    // A refused stream (401) closes for good; check whether the session is still valid.
    if (stream.readyState === EventSource.CLOSED) {
      void api('GET', '/session').then(
        () => setTimeout(connect, 3000),
        () => {},
      );
    }
  });
  stream.addEventListener('stats', (event) => onOverview(JSON.parse(event.data)));
  stream.addEventListener('routes', (event) => {
    const version = JSON.parse(event.data);
    $('#live').dataset.version = String(version.version);
    // Show the new modes now rather than at the next stats tick.
    if (lastOverview && lastOverview.version !== version.version) {
      void api('GET', '/overview').then(onOverview, () => {});
    }
    historyStale = true;
    if (view === 'history') void refreshHistory();
  });
  stream.addEventListener('mismatches', (event) => shadow.add(JSON.parse(event.data)));
  stream.addEventListener('sync', (event) => sync.render(JSON.parse(event.data)));
}

function showSignIn(message = '') {
  stream?.close();
  stream = null;
  $('#signed-in').hidden = true;
  $('#signed-out').hidden = false;
  $('#sign-out').hidden = true;
  $('#who').textContent = '';
  $('#live').textContent = 'not connected';
  $('#live').className = 'live';
  $('#sign-in-error').textContent = message;
  $('#token').focus();
}

function showDashboard(session) {
  $('#signed-out').hidden = true;
  $('#signed-in').hidden = false;
  $('#sign-out').hidden = false;
  $('#who').textContent = session.actor ? `signed in as ${session.actor}` : '';
  show(location.hash.slice(1) || 'routes');
  connect();
  void api('GET', '/overview').then(onOverview, () => {});
}

$('#sign-in').addEventListener('submit', (event) => {
  event.preventDefault();
  const token = $('#token').value;
  const actor = $('#actor').value.trim();
  void signIn(token, actor).then(
    (session) => {
      $('#token').value = '';
      showDashboard(session);
    },
    (failure) => {
      $('#sign-in-error').textContent =
        failure.status === 401 ? 'That is not the admin token of this gateway.' : failure.message;
    },
  );
});

$('#sign-out').addEventListener('click', () => {
  void api('DELETE', '/session').finally(() => showSignIn());
});

void api('GET', '/session').then(showDashboard, () => showSignIn());
