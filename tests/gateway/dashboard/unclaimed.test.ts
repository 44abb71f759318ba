/**
 * Traffic no route claims: grouped into path templates with ids collapsed, counted in bounded
 * memory, and served at GET /_ficus/api/unclaimed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUnclaimedPaths, templateOf } from '../../../gateway/unclaimed/index.js';
import { bearer, request, startDashboardHarness, type DashboardHarness } from './harness.js';

describe('templateOf', () => {
  it.each([
    ['/members/17', '/members/:id'],
    ['/members/17/orders/3', '/members/:id/orders/:id'],
    ['/carts/5f0c2a7e-9d3b-4c1a-8e2f-0123456789ab', '/carts/:id'],
    ['/blobs/0123456789abcdef0123', '/blobs/:id'],
    ['/blobs/0123456789ABCDEF', '/blobs/:id'],
    ['/blobs/abc123', '/blobs/abc123'],
    ['/products', '/products'],
    ['/products/kitchen-knife', '/products/kitchen-knife'],
    ['/v2/items', '/v2/items'],
    ['/', '/'],
  ])('%s becomes %s', (path, template) => {
    expect(templateOf(path)).toBe(template);
  });
});

describe('createUnclaimedPaths', () => {
  it('counts requests and 5xx answers per method and template, busiest first', () => {
    const paths = createUnclaimedPaths();
    paths.record('GET', '/members/1', 200);
    paths.record('GET', '/members/2', 500);
    paths.record('GET', '/members/3', 200);
    paths.record('DELETE', '/members/3', 204);
    paths.record('GET', '/health', 200);
    const report = paths.report();
    expect(report.totalRequests).toBe(5);
    expect(report.distinct).toBe(3);
    expect(report.templates[0]).toMatchObject({
      method: 'GET',
      template: '/members/:id',
      requests: 3,
      errors: 1,
      overcount: 0,
      example: '/members/3',
    });
    expect(report.templates.map((t) => `${t.method} ${t.template}`)).toContain(
      'DELETE /members/:id',
    );
  });

  it('never holds more than maxTemplates, and a scan of random paths cannot push out the busy ones', () => {
    const paths = createUnclaimedPaths({ maxTemplates: 10 });
    // Interleaved, as real traffic is: every template above 1/10 of all requests must stay.
    for (let i = 0; i < 1000; i++) {
      if (i % 5 === 0) paths.record('GET', `/busy/${i}`, 200);
      if (i % 6 === 0) paths.record('GET', '/steady/2', 200);
      paths.record('GET', `/scan-${i}`, 404);
    }
    const report = paths.report(100);
    expect(report.distinct).toBe(10);
    expect(report.templates).toHaveLength(10);
    expect(report.maxTemplates).toBe(10);
    expect(report.evictions).toBeGreaterThan(900);
    expect(report.totalRequests).toBe(1000 + 200 + 167);
    expect(report.templates[0]).toMatchObject({ template: '/busy/:id', requests: 200 });
    expect(report.templates[1]).toMatchObject({ template: '/steady/:id', requests: 167 });
    // Counts of newcomers are upper bounds: never below the truth, at most `overcount` above.
    for (const template of report.templates.slice(2)) {
      expect(template.requests - template.overcount).toBeLessThanOrEqual(1);
      expect(template.requests).toBeGreaterThanOrEqual(1);
    }
  });

  it('limits the report', () => {
    const paths = createUnclaimedPaths();
    for (let i = 0; i < 5; i++) paths.record('GET', `/p${i}`, 200);
    expect(paths.report(2).templates).toHaveLength(2);
  });
});

describe('GET /_ficus/api/unclaimed', () => {
  let h: DashboardHarness;
  beforeAll(async () => {
    h = await startDashboardHarness(
      ({ legacy, service }) => ({
        legacy,
        services: { catalog: service },
        routes: [{ id: 'products', path: '/products/:id', service: 'catalog', mode: 'legacy' }],
      }),
      { maxUnclaimedTemplates: 3 },
    );
  });
  afterAll(() => h.close());

  it('needs the admin token', async () => {
    expect((await request(h.url, { path: '/_ficus/api/unclaimed' })).status).toBe(401);
  });

  it('lists what the monolith answered because no route matched, not what a route claimed', async () => {
    for (const path of ['/members/1', '/members/2?x=1', '/members/3/orders', '/products/1']) {
      expect((await request(h.url, { path })).status).toBe(200);
    }
    const report = (
      await request(h.url, { path: '/_ficus/api/unclaimed', headers: bearer })
    ).json() as { totalRequests: number; templates: { template: string; requests: number }[] };
    expect(report.totalRequests).toBe(3);
    expect(report.templates).toEqual([
      expect.objectContaining({ template: '/members/:id', requests: 2 }),
      expect.objectContaining({ template: '/members/:id/orders', requests: 1 }),
    ]);
  });

  it('stays within the configured cap', async () => {
    for (let i = 0; i < 20; i++) await request(h.url, { path: `/scan/x${i}` });
    const report = (
      await request(h.url, { path: '/_ficus/api/unclaimed?limit=100', headers: bearer })
    ).json() as { distinct: number; maxTemplates: number; templates: unknown[] };
    expect(report.maxTemplates).toBe(3);
    expect(report.distinct).toBe(3);
    expect(report.templates).toHaveLength(3);
  });

  it('refuses a bad limit, naming it', async () => {
    const answer = await request(h.url, {
      path: '/_ficus/api/unclaimed?limit=0',
      headers: bearer,
    });
    expect(answer.status).toBe(400);
    expect(answer.json()).toMatchObject({ error: { field: 'limit' } });
  });
});
