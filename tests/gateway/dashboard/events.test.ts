/**
 * The live stream at GET /_ficus/api/events: authenticated by the session cookie (what an
 * EventSource sends) or the token; it delivers the route table when it changes, a stats snapshot
 * on every tick, and new shadow mismatches.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Overview, RouteTableVersion } from '../../../gateway/index.js';
import {
  bearer,
  openEventStream,
  request,
  signIn,
  startDashboardHarness,
  type DashboardHarness,
  type EventStream,
} from './harness.js';

let h: DashboardHarness;
const streams: EventStream[] = [];
beforeAll(async () => {
  h = await startDashboardHarness(
    ({ legacy, service }) => ({
      legacy,
      services: { catalog: service },
      routes: [
        { id: 'products', path: '/products/:id', service: 'catalog', mode: 'legacy' },
        { id: 'reviews', path: '/reviews', service: 'catalog', mode: 'shadow' },
      ],
    }),
    { statsEveryMs: 100, syncEveryMs: 200 },
  );
});
afterAll(async () => {
  for (const stream of streams) stream.close();
  await h.close();
});

async function open(headers: Record<string, string>): Promise<EventStream> {
  const stream = await openEventStream(h.url, headers);
  streams.push(stream);
  return stream;
}

describe('GET /_ficus/api/events', () => {
  it('refuses a client without a token or session', async () => {
    const stream = await open({});
    expect(stream.status).toBe(401);
  });

  it('starts with the route table and a stats snapshot, with the session cookie', async () => {
    const cookie = await signIn(h.url);
    const stream = await open({ cookie });
    expect(stream.status).toBe(200);
    const routes = await stream.next('routes');
    expect((routes.data as RouteTableVersion).table.routes.map((r) => r.id)).toEqual([
      'products',
      'reviews',
    ]);
    const stats = await stream.next('stats');
    expect((stats.data as Overview).routes).toHaveLength(2);
  });

  it('pushes a route change as soon as it is made', async () => {
    const stream = await open(bearer);
    await stream.next('stats');
    const from = stream.events.length;
    const answer = await request(h.url, {
      method: 'PATCH',
      path: '/_ficus/api/routes/products',
      headers: { ...bearer, 'content-type': 'application/json', 'x-ficus-actor': 'maria' },
      body: JSON.stringify({ mode: 'canary', weight: 10, reason: 'first members' }),
    });
    expect(answer.status).toBe(200);
    const change = await stream.next(
      'routes',
      (data) => (data as RouteTableVersion).actor === 'maria',
      { from },
    );
    const version = change.data as RouteTableVersion;
    expect(version.reason).toBe('first members');
    expect(version.table.routes[0]).toMatchObject({ id: 'products', mode: 'canary', weight: 10 });
  });

  it('sends stats snapshots that follow the traffic', async () => {
    const stream = await open(bearer);
    await stream.next('stats');
    for (let i = 0; i < 3; i++) await request(h.url, { path: '/members/1' });
    const stats = await stream.next('stats', (data) => {
      const overview = data as Overview;
      return overview.progress.unclaimed.totalRequests >= 3;
    });
    const overview = stats.data as Overview;
    expect(overview.progress.unclaimed.top[0]).toMatchObject({ template: '/members/:id' });
  });

  it('announces new shadow mismatches', async () => {
    const stream = await open(bearer);
    await stream.next('stats');
    h.service.behaviour.body = { different: true };
    await request(h.url, { path: '/reviews?page=2' });
    const event = await stream.next('mismatches');
    expect(event.data).toEqual([
      expect.objectContaining({
        routeId: 'reviews',
        method: 'GET',
        path: '/reviews?page=2',
        primaryStatus: 200,
        candidateStatus: 200,
      }),
    ]);
  });

  it('sends the sync report', async () => {
    const stream = await open(bearer);
    const sync = await stream.next('sync');
    expect(sync.data).toMatchObject({
      cdc: null,
      services: [{ name: 'catalog', available: false }],
    });
  });

  it('answers HEAD without opening a stream', async () => {
    const own = await startDashboardHarness(({ legacy }) => ({ legacy, routes: [] }));
    try {
      const head = await request(own.url, {
        method: 'HEAD',
        path: '/_ficus/api/events',
        headers: bearer,
      });
      expect(head.status).toBe(200);
      expect(own.gateway.dashboard.events.clients).toBe(0);
    } finally {
      await own.close();
    }
  });

  it('ends every stream when the gateway closes', async () => {
    const own = await startDashboardHarness(({ legacy }) => ({ legacy, routes: [] }));
    const stream = await openEventStream(own.url, bearer);
    await stream.next('stats');
    expect(own.gateway.dashboard.events.clients).toBe(1);
    await own.close();
    await stream.ended;
  });
});
