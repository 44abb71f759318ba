/**
 * The gateway through real sockets: each mode, stickiness, shadow, fallback, automatic rollback,
 * live reload under load, path tricks, upstream failures, and the headers it forwards.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canaryBucket } from '../../gateway/index.js';
import { waitUntil } from '../cdc/harness.js';
import { startUpstream } from '../support/upstream.js';
import { ADMIN_TOKEN, request, startGatewayHarness, type GatewayHarness } from './harness.js';

describe('modes', () => {
  let h: GatewayHarness;
  beforeAll(async () => {
    h = await startGatewayHarness(({ legacy, service }) => ({
      legacy,
      services: { catalog: service },
      routes: [
        { id: 'old', path: '/old', service: 'catalog', mode: 'legacy' },
        { id: 'moved', methods: ['GET'], path: '/moved/:id', service: 'catalog', mode: 'new' },
        {
          id: 'split',
          path: '/split',
          service: 'catalog',
          mode: 'canary',
          weight: 10,
          sticky: { header: 'x-member-id' },
        },
      ],
    }));
  });
  afterAll(() => h.close());

  it('sends legacy routes and unmatched paths to the monolith, new routes to the service', async () => {
    expect((await request(h.url, { path: '/old' })).json()).toEqual({
      from: 'legacy',
      path: '/old',
    });
    expect((await request(h.url, { path: '/anything/else?x=1' })).json()).toEqual({
      from: 'legacy',
      path: '/anything/else?x=1',
    });
    expect((await request(h.url, { path: '/moved/7?full=1' })).json()).toEqual({
      from: 'service',
      path: '/moved/7?full=1',
    });
    // Method matters: POST /moved/7 is not claimed by the GET route.
    expect((await request(h.url, { method: 'POST', path: '/moved/7' })).json()).toMatchObject({
      from: 'legacy',
    });
  });

  it('keeps every canary key on one side, and raising the weight only adds keys to the new side', async () => {
    const keys = Array.from({ length: 300 }, (_, i) => `member-${i}`);
    const sideOf = async (key: string) =>
      (
        (await request(h.url, { path: '/split', headers: { 'x-member-id': key } })).json() as {
          from: string;
        }
      ).from;
    const at10 = new Map<string, string>();
    for (const key of keys) at10.set(key, await sideOf(key));
    // Stable: asking again gives the same side.
    for (const key of keys.slice(0, 50)) expect(await sideOf(key)).toBe(at10.get(key));
    const newAt10 = keys.filter((key) => at10.get(key) === 'service');
    expect(newAt10.length).toBeGreaterThan(10);
    expect(newAt10.length).toBeLessThan(60);
    // The sides follow the documented bucket rule.
    for (const key of keys)
      expect(at10.get(key) === 'service').toBe(canaryBucket('split', key) < 1000);

    await h.store.setMode('split', { weight: 50 }, { actor: 'test', reason: 'widen canary' });
    const at50 = new Map<string, string>();
    for (const key of keys) at50.set(key, await sideOf(key));
    for (const key of newAt10) expect(at50.get(key)).toBe('service');
    expect(keys.filter((key) => at50.get(key) === 'service').length).toBeGreaterThan(
      newAt10.length,
    );

    // A tester can force a side.
    const forced = await request(h.url, {
      path: '/split',
      headers: { 'x-member-id': newAt10[0]!, 'x-ficus-route': 'legacy' },
    });
    expect(forced.json()).toMatchObject({ from: 'legacy' });
  });
});

describe('shadow', () => {
  let h: GatewayHarness;
  beforeAll(async () => {
    h = await startGatewayHarness(({ legacy, service }) => ({
      legacy,
      services: { catalog: service },
      routes: [
        {
          id: 'products',
          path: '/products/*',
          service: 'catalog',
          mode: 'shadow',
          shadow: { ignore: ['generatedAt'] },
        },
      ],
    }));
  });
  afterAll(() => h.close());

  it('answers from the monolith, unchanged, and records a planted difference but not an ignored one', async () => {
    h.legacy.behaviour.body = (r: { url: string }) => ({
      path: r.url,
      price: '10.00',
      generatedAt: 'a',
    });
    h.service.behaviour.body = (r: { url: string }) => ({
      path: r.url,
      price: r.url.endsWith('/2') ? '11.00' : '10.00',
      generatedAt: 'b',
    });
    h.service.behaviour.delayMs = 50;

    const direct = await request(h.legacy.url, { path: '/products/1' });
    const through = await request(h.url, { path: '/products/1' });
    expect(through.status).toBe(direct.status);
    expect(through.body).toBe(direct.body);
    await request(h.url, { path: '/products/2' });

    const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
    await waitUntil(async () => {
      const stats = (
        await request(h.url, { path: '/_ficus/api/stats', headers: admin })
      ).json() as {
        routes: { id: string; shadow: { matches: number; mismatches: number } }[];
      };
      const shadow = stats.routes.find((r) => r.id === 'products')!.shadow;
      return shadow.matches === 1 && shadow.mismatches === 1;
    });
    const mismatches = (
      await request(h.url, { path: '/_ficus/api/shadow/mismatches?route=products', headers: admin })
    ).json() as {
      items: {
        request: { path: string };
        differences: { path: string; primary: unknown; candidate: unknown }[];
      }[];
    };
    expect(mismatches.items).toHaveLength(1);
    expect(mismatches.items[0]!.request.path).toBe('/products/2');
    expect(mismatches.items[0]!.differences).toEqual([
      expect.objectContaining({ path: '$.price', primary: '10.00', candidate: '11.00' }),
    ]);
  });

  it('does not mirror writes by default', async () => {
    const before = h.service.seen.length;
    const answer = await request(h.url, {
      method: 'POST',
      path: '/products/1',
      body: '{}',
      headers: { 'content-type': 'application/json' },
    });
    expect(answer.json()).toMatchObject({ path: '/products/1' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(h.service.seen.length).toBe(before);
  });
});

describe('fallback and automatic rollback', () => {
  let h: GatewayHarness;
  beforeAll(async () => {
    h = await startGatewayHarness(({ legacy, service }) => ({
      legacy,
      services: { catalog: service },
      routes: [
        { id: 'safe', path: '/safe', service: 'catalog', mode: 'new', fallback: true },
        {
          id: 'guarded',
          path: '/guarded',
          service: 'catalog',
          mode: 'new',
          guard: { maxErrorRate: 0.2, windowSeconds: 30, minRequests: 10 },
        },
      ],
    }));
  });
  afterAll(() => h.close());

  it('answers a safe request from the monolith when the service fails, but not a write', async () => {
    h.service.behaviour.status = 503;
    expect((await request(h.url, { path: '/safe' })).json()).toMatchObject({ from: 'legacy' });
    const write = await request(h.url, { method: 'POST', path: '/safe', body: 'x' });
    expect(write.status).toBe(503);
    h.service.behaviour.status = 200;
    expect((await request(h.url, { path: '/safe' })).json()).toMatchObject({ from: 'service' });
  });

  it('falls back when the service is down', async () => {
    const down = await startUpstream('down');
    await down.close();
    const table = h.store.current().table;
    await h.store.update(
      { ...table, services: { catalog: down.url } },
      { actor: 'test', reason: 'point at a dead service' },
    );
    expect((await request(h.url, { path: '/safe' })).json()).toMatchObject({ from: 'legacy' });
    await h.store.update(table, { actor: 'test', reason: 'back' });
  });

  it('rolls a route back to legacy after an error burst and records why', async () => {
    h.service.behaviour.status = 500;
    for (let i = 0; i < 12; i++) await request(h.url, { path: '/guarded' });
    await waitUntil(
      () => h.store.current().table.routes.find((r) => r.id === 'guarded')!.mode === 'legacy',
    );
    const latest = h.store.current();
    expect(latest.kind).toBe('rollback');
    expect(latest.actor).toBe('guard');
    expect(latest.reason).toMatch(/error rate/);
    h.service.behaviour.status = 200;
    expect((await request(h.url, { path: '/guarded' })).json()).toMatchObject({ from: 'legacy' });
  });
});

describe('live changes', () => {
  let h: GatewayHarness;
  beforeAll(async () => {
    h = await startGatewayHarness(({ legacy, service }) => ({
      legacy,
      services: { catalog: service },
      routes: [{ id: 'flip', path: '/flip', service: 'catalog', mode: 'legacy' }],
    }));
  });
  afterAll(() => h.close());

  it('applies 200 changes while a client sends requests without pause, failing none', async () => {
    let running = true;
    const failures: string[] = [];
    let sent = 0;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    const client = (async () => {
      while (running) {
        const status = await new Promise<number>((resolve) => {
          const req = http.get(`${h.url}/flip`, { agent }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          });
          req.on('error', (error) => {
            failures.push(error.message);
            resolve(0);
          });
        });
        sent++;
        if (status !== 200) failures.push(`status ${status}`);
      }
    })();
    for (let i = 0; i < 200; i++) {
      await h.store.setMode(
        'flip',
        { mode: i % 2 === 0 ? 'new' : 'legacy' },
        { actor: 'test', reason: `flip ${i}` },
      );
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    running = false;
    await client;
    agent.destroy();
    expect(failures).toEqual([]);
    expect(sent).toBeGreaterThan(200);
    expect(h.store.current().version).toBe(201);
  });

  it('refuses an invalid table over the admin API and keeps routing with the old one', async () => {
    const body = JSON.stringify({
      table: {
        legacy: h.legacy.url,
        routes: [{ id: 'flip', path: '/flip', mode: 'new', service: 'nowhere' }],
      },
      reason: 'broken',
    });
    const refused = await request(h.url, {
      method: 'PUT',
      path: '/_ficus/api/routes',
      body,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    });
    expect(refused.status).toBe(400);
    expect(refused.body).toMatch(/route flip: routes\[0\]\.service: unknown service nowhere/);
    expect(h.store.current().version).toBe(201);
    expect((await request(h.url, { path: '/flip' })).status).toBe(200);
  });
});

describe('the gateway itself', () => {
  let h: GatewayHarness;
  beforeAll(async () => {
    h = await startGatewayHarness(({ legacy, service }) => ({
      legacy,
      services: { catalog: service },
      routes: [
        { id: 'products', path: '/products', service: 'catalog', mode: 'new' },
        { id: 'slow', path: '/slow', service: 'catalog', mode: 'new', timeoutMs: 200 },
      ],
    }));
  });
  afterAll(() => h.close());

  it('refuses the admin API without the token, and never proxies /_ficus/', async () => {
    const seen = h.legacy.seen.length;
    const denied = await request(h.url, { path: '/_ficus/api/routes' });
    expect(denied.status).toBe(401);
    expect(denied.json()).toMatchObject({ error: { code: 'FICUS_UNAUTHORIZED' } });
    expect(
      (
        await request(h.url, {
          path: '/_ficus/api/routes',
          headers: { authorization: 'Bearer wrong' },
        })
      ).status,
    ).toBe(401);
    expect((await request(h.url, { path: '/_ficus/nothing' })).status).toBe(404);
    expect((await request(h.url, { path: '/%5Fficus/api/routes' })).status).toBe(404);
    // Regression: another case in an encoded spelling reached the monolith.
    expect((await request(h.url, { path: '/%5FFICUS/api/routes' })).status).toBe(404);
    expect((await request(h.url, { path: '/_Ficus/x' })).status).toBe(404);
    expect((await request(h.url, { path: '/x/../_ficus/api/routes' })).status).toBe(404);
    expect(h.legacy.seen.length).toBe(seen);
    expect((await request(h.url, { path: '/_ficus/health' })).json()).toMatchObject({
      status: 'ok',
    });
  });

  it.each([
    ['/a/../products', 200, '/products'],
    ['/products/.', 200, '/products/'],
    ['//products', 200, '/products'],
    ['/%70roducts?q=%2F', 200, '/products?q=%2F'],
    ['/../products', 400, undefined],
    ['/products%2F..%2Fadmin', 400, undefined],
    ['/products%00', 400, undefined],
    ['/products\\..\\admin', 400, undefined],
  ])('routes on the normalised path: %s → %i', async (path, status, upstreamPath) => {
    const answer = await request(h.url, { path });
    expect(answer.status).toBe(status);
    if (upstreamPath) expect(answer.json()).toEqual({ from: 'service', path: upstreamPath });
    else expect(answer.json()).toMatchObject({ error: { code: 'FICUS_INVALID_PATH' } });
  });

  it('answers 502 when the upstream is down and 504 when it is too slow, as JSON', async () => {
    h.service.behaviour.delayMs = 1_000;
    const slow = await request(h.url, { path: '/slow' });
    expect(slow.status).toBe(504);
    expect(slow.json()).toMatchObject({ error: { code: 'FICUS_UPSTREAM_TIMEOUT' } });
    h.service.behaviour.delayMs = 0;

    const down = await startUpstream('down');
    await down.close();
    const table = h.store.current().table;
    await h.store.update(
      { ...table, services: { catalog: down.url } },
      { actor: 'test', reason: 'dead service' },
    );
    const unreachable = await request(h.url, { path: '/products' });
    expect(unreachable.status).toBe(502);
    expect(unreachable.json()).toMatchObject({ error: { code: 'FICUS_UPSTREAM_UNREACHABLE' } });
    await h.store.update(table, { actor: 'test', reason: 'back' });
  });

  it('cancels the upstream request when the client goes away', async () => {
    h.service.behaviour.delayMs = 2_000;
    const before = h.service.seen.length;
    await new Promise<void>((resolve) => {
      const req = http.get(`${h.url}/products`);
      req.on('error', () => resolve());
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 200);
    });
    await waitUntil(() => h.service.seen.length > before && h.service.seen.at(-1)!.aborted, 3_000);
    h.service.behaviour.delayMs = 0;
  });

  it('forwards identity and origin headers, drops hop-by-hop ones, and streams bodies both ways', async () => {
    const body = 'x'.repeat(2 * 1024 * 1024);
    const answer = await request(h.url, {
      method: 'POST',
      path: '/products',
      body,
      headers: {
        connection: 'x-private',
        'x-private': 'secret',
        'content-type': 'text/plain',
        'keep-alive': 'timeout=5',
      },
    });
    expect(answer.status).toBe(200);
    const seen = h.service.seen.at(-1)!;
    expect(seen.body.length).toBe(body.length);
    expect(seen.headers['x-private']).toBeUndefined();
    expect(seen.headers['keep-alive']).toBeUndefined();
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen.headers['x-forwarded-proto']).toBe('http');
    expect(seen.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(seen.headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(answer.headers['x-request-id']).toBe(seen.headers['x-request-id']);

    const traced = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    await request(h.url, {
      path: '/products',
      headers: { traceparent: traced, 'x-request-id': 'abc-123' },
    });
    expect(h.service.seen.at(-1)!.headers).toMatchObject({
      traceparent: traced,
      'x-request-id': 'abc-123',
    });
  });

  it('counts requests per route and side in Prometheus metrics', async () => {
    const metrics = (await request(h.url, { path: '/_ficus/metrics' })).body;
    expect(metrics).toMatch(
      /ficus_gateway_requests_total\{route="products",side="new",status="2xx"\} \d+/,
    );
    expect(metrics).toMatch(
      /ficus_gateway_request_duration_seconds_bucket\{le="0.005",route="products",side="new"\}/,
    );
  });
});
