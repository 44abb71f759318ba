/**
 * GET /_ficus/api/overview: migration progress (routes by mode, share of traffic answered by new
 * services, routes still on the monolith) and one row per route with both sides' numbers, the
 * shadow match rate and the guard.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Overview } from '../../../gateway/index.js';
import { waitUntil } from '../../cdc/harness.js';
import { bearer, request, startDashboardHarness, type DashboardHarness } from './harness.js';

let h: DashboardHarness;
beforeAll(async () => {
  h = await startDashboardHarness(({ legacy, service }) => ({
    legacy,
    services: { catalog: service },
    routes: [
      {
        id: 'moved',
        path: '/moved',
        service: 'catalog',
        mode: 'new',
        fallback: true,
        guard: { maxErrorRate: 0.9, maxP99Ms: 5000, minRequests: 100 },
      },
      { id: 'compared', path: '/compared/:id', service: 'catalog', mode: 'shadow' },
      { id: 'split', path: '/split', service: 'catalog', mode: 'canary', weight: 25 },
      { id: 'kept', path: '/kept', service: 'catalog', mode: 'legacy' },
      { id: 'kept-too', path: '/kept-too', mode: 'legacy' },
    ],
  }));
});
afterAll(() => h.close());

const overview = async () =>
  (await request(h.url, { path: '/_ficus/api/overview', headers: bearer })).json() as Overview;

describe('GET /_ficus/api/overview', () => {
  it('needs the admin token', async () => {
    expect((await request(h.url, { path: '/_ficus/api/overview' })).status).toBe(401);
  });

  it('counts routes by mode and lists the ones still only on the monolith', async () => {
    const { progress, routes, version } = await overview();
    expect(version).toBe(1);
    expect(progress.routesByMode).toEqual({ legacy: 2, shadow: 1, canary: 1, new: 1 });
    expect(progress.legacyRoutes).toEqual(['kept', 'kept-too']);
    expect(routes.map((r) => r.id)).toEqual(['moved', 'compared', 'split', 'kept', 'kept-too']);
    expect(routes[0]).toMatchObject({
      mode: 'new',
      service: 'catalog',
      target: h.service.url,
      guard: { config: { maxErrorRate: 0.9 }, state: { requests: 0, tripped: false } },
    });
    expect(routes[4]).toMatchObject({ service: null, target: null, guard: null });
  });

  it('measures the share answered by new services, not counting answers that fell back', async () => {
    for (let i = 0; i < 3; i++) await request(h.url, { path: '/moved' });
    await request(h.url, { path: '/kept' });
    h.service.behaviour.status = 500;
    await request(h.url, { path: '/moved' }); // fails on the service, the monolith answers
    h.service.behaviour.status = 200;
    const { progress, routes } = await overview();
    // 5 client requests: 3 answered by the service, 1 by the monolith, 1 fell back.
    expect(progress.share.recent).toMatchObject({ requests: 5, newRequests: 3, ratio: 0.6 });
    expect(progress.share.sinceStart).toMatchObject({ requests: 5, newRequests: 3 });
    const moved = routes.find((r) => r.id === 'moved')!;
    expect(moved.traffic.new).toMatchObject({ requests: 4, errors: 1, errorRate: 0.25 });
    expect(moved.traffic.fallback).toMatchObject({ requests: 1, errors: 0 });
    expect(moved.traffic.new.rps).toBeGreaterThan(0);
    expect(moved.traffic.new.p99Ms).toBeGreaterThan(0);
    expect(moved.guard!.state).toMatchObject({ requests: 4, errors: 1 });
  });

  it('gives the shadow match rate', async () => {
    h.legacy.behaviour.body = { price: '10.00' };
    h.service.behaviour.body = (r: { url: string }) => ({
      price: r.url.endsWith('/2') ? '11.00' : '10.00',
    });
    for (const id of [1, 2, 3, 4]) await request(h.url, { path: `/compared/${id}` });
    await waitUntil(async () => {
      const compared = (await overview()).routes.find((r) => r.id === 'compared')!;
      return compared.shadow.matches + compared.shadow.mismatches === 4;
    });
    const compared = (await overview()).routes.find((r) => r.id === 'compared')!;
    expect(compared.shadow).toMatchObject({ matches: 3, mismatches: 1, matchRate: 0.75 });
    expect(compared.traffic.shadow.requests).toBe(4);
    expect(compared.traffic.legacy.requests).toBe(4);
  });

  it('follows a route change', async () => {
    await h.store.setMode('kept', { mode: 'shadow' }, { actor: 'test', reason: 'compare' });
    const { progress, version } = await overview();
    expect(version).toBe(2);
    expect(progress.routesByMode.shadow).toBe(2);
    expect(progress.legacyRoutes).toEqual(['kept-too']);
  });
});
