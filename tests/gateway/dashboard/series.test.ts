/**
 * Per-route time series: bucketing, expiry, percentiles, and what the gateway records for each
 * side, served at GET /_ficus/api/series/:route.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTrafficSeries, type RouteSeries } from '../../../gateway/dashboard/index.js';
import { waitUntil } from '../../cdc/harness.js';
import { bearer, request, startDashboardHarness, type DashboardHarness } from './harness.js';

describe('createTrafficSeries', () => {
  function clock(start = 1_000_000_000_000) {
    let now = start;
    return { now: () => now, advance: (ms: number) => (now += ms) };
  }

  it('puts requests into 10 s buckets per side and keeps a fixed number of buckets', () => {
    const time = clock();
    const series = createTrafficSeries({ bucketSeconds: 10, buckets: 6, now: time.now });
    series.observe('r', 'legacy', 200, 5);
    series.observe('r', 'legacy', 503, 5);
    series.observe('r', 'new', 200, 5);
    time.advance(10_000);
    series.observe('r', 'legacy', 200, 5);
    const s = series.series('r');
    expect(s.times).toHaveLength(6);
    expect(s.times[5]! - s.times[4]!).toBe(10);
    expect(s.sides.legacy.requests.slice(-2)).toEqual([2, 1]);
    expect(s.sides.legacy.errors.slice(-2)).toEqual([1, 0]);
    expect(s.sides.new.requests.slice(-2)).toEqual([1, 0]);
    expect(s.sides.shadow.requests.every((n) => n === 0)).toBe(true);
    // A minute later the old buckets have left the window.
    time.advance(60_000);
    series.observe('r', 'legacy', 200, 5);
    const later = series.series('r');
    expect(later.sides.legacy.requests.reduce((a, b) => a + b, 0)).toBe(1);
    expect(series.totals().legacy).toEqual({ requests: 4, errors: 1 });
  });

  it('reports p99 within about 10% and rates over the window', () => {
    const time = clock();
    const series = createTrafficSeries({ now: time.now });
    for (let i = 1; i <= 1000; i++) series.observe('r', 'new', i <= 10 ? 500 : 200, i);
    const summary = series.summary('r', 60);
    expect(summary.new.requests).toBe(1000);
    expect(summary.new.errors).toBe(10);
    expect(summary.new.errorRate).toBeCloseTo(0.01);
    expect(summary.new.p99Ms).toBeGreaterThan(990 * 0.9);
    expect(summary.new.p99Ms).toBeLessThan(990 * 1.1);
    expect(summary.legacy).toEqual({ requests: 0, errors: 0, rps: 0, errorRate: 0, p99Ms: null });
    // The window is the five buckets before the current one plus what has passed of it.
    expect(summary.new.rps).toBeCloseTo(1000 / 50);
    time.advance(9_000);
    expect(series.summary('r', 60).new.rps).toBeCloseTo(1000 / 59);
  });

  it('keeps the p99 of buckets older than the kept histograms', () => {
    const time = clock();
    const series = createTrafficSeries({ bucketSeconds: 10, buckets: 60, now: time.now });
    // 30 buckets with latencies growing bucket by bucket: 10, 20, 30 … ms.
    for (let bucket = 0; bucket < 30; bucket++) {
      for (let i = 0; i < 20; i++) series.observe('r', 'new', 200, 10 * (bucket + 1));
      time.advance(10_000);
    }
    const { p99Ms, requests } = series.series('r').sides.new;
    const filled = p99Ms.slice(-31, -1);
    expect(requests.slice(-31, -1)).toEqual(Array.from({ length: 30 }, () => 20));
    filled.forEach((p99, bucket) => {
      expect(p99, `bucket ${bucket}`).not.toBeNull();
      expect(Math.abs(p99! - 10 * (bucket + 1)) / (10 * (bucket + 1))).toBeLessThan(0.1);
    });
  });

  it('forgets a route', () => {
    const series = createTrafficSeries();
    series.observe('gone', 'legacy', 200, 1);
    series.forget('gone');
    expect(series.routes()).toEqual([]);
    expect(series.summary('gone', 60).legacy.requests).toBe(0);
  });
});

describe('GET /_ficus/api/series/:route', () => {
  let h: DashboardHarness;
  beforeAll(async () => {
    h = await startDashboardHarness(({ legacy, service }) => ({
      legacy,
      services: { catalog: service },
      routes: [
        { id: 'moved', path: '/moved', service: 'catalog', mode: 'new' },
        { id: 'compared', path: '/compared', service: 'catalog', mode: 'shadow' },
        { id: 'kept', path: '/kept', service: 'catalog', mode: 'legacy' },
      ],
    }));
  });
  afterAll(() => h.close());

  const seriesOf = async (route: string) =>
    (
      await request(h.url, { path: `/_ficus/api/series/${route}`, headers: bearer })
    ).json() as RouteSeries;
  const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

  it('needs the admin token', async () => {
    expect((await request(h.url, { path: '/_ficus/api/series/moved' })).status).toBe(401);
  });

  it('records who answered each route: the service, the monolith, and the shadow copy', async () => {
    for (let i = 0; i < 3; i++) await request(h.url, { path: '/moved' });
    for (let i = 0; i < 2; i++) await request(h.url, { path: '/kept' });
    await request(h.url, { path: '/compared' });
    h.service.behaviour.status = 503;
    await request(h.url, { path: '/moved' });
    h.service.behaviour.status = 200;

    const moved = await seriesOf('moved');
    expect(moved.bucketSeconds).toBe(10);
    expect(moved.times.length).toBe(180);
    expect(sum(moved.sides.new.requests)).toBe(4);
    expect(sum(moved.sides.new.errors)).toBe(1);
    expect(sum(moved.sides.legacy.requests)).toBe(0);
    expect(moved.sides.new.p99Ms.at(-1)).toBeGreaterThan(0);

    expect(sum((await seriesOf('kept')).sides.legacy.requests)).toBe(2);

    // The shadow copy is sent after the client has its answer.
    await waitUntil(async () => sum((await seriesOf('compared')).sides.shadow.requests) === 1);
    const compared = await seriesOf('compared');
    expect(sum(compared.sides.legacy.requests)).toBe(1);
    expect(sum(compared.sides.new.requests)).toBe(0);
  });

  it('answers 404 for a route that does not exist', async () => {
    const answer = await request(h.url, { path: '/_ficus/api/series/nope', headers: bearer });
    expect(answer.status).toBe(404);
    expect(answer.json()).toMatchObject({ error: { code: 'FICUS_ROUTE_NOT_FOUND' } });
  });
});
