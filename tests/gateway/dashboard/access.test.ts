/**
 * Who may use the dashboard: the page itself is public (it holds no data), every endpoint it
 * reads or changes needs the admin token or a session cookie got by signing in with it, and a
 * cookie-authenticated change must carry X-Ficus-Dashboard.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSessionSigner } from '../../../gateway/admin/index.js';
import {
  ADMIN_TOKEN,
  bearer,
  request,
  signIn,
  startDashboardHarness,
  type DashboardHarness,
} from './harness.js';

let h: DashboardHarness;
beforeAll(async () => {
  h = await startDashboardHarness(({ legacy, service }) => ({
    legacy,
    services: { catalog: service },
    routes: [{ id: 'products', path: '/products', service: 'catalog', mode: 'legacy' }],
  }));
});
afterAll(() => h.close());

describe('the page', () => {
  it('is served at /_ficus/ without a token, with a strict content security policy', async () => {
    const page = await request(h.url, { path: '/_ficus/' });
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.body).toContain('<script type="module" src="assets/app.js"></script>');
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    const bare = await request(h.url, { path: '/_ficus' });
    expect(bare.status).toBe(301);
    expect(bare.headers.location).toBe('/_ficus/');
  });

  it('serves its modules and the chart library from the package, never proxying', async () => {
    const seen = h.legacy.seen.length;
    for (const [path, type] of [
      ['/_ficus/assets/app.js', /^text\/javascript/],
      ['/_ficus/assets/dashboard.css', /^text\/css/],
      ['/_ficus/vendor/uplot.js', /^text\/javascript/],
      ['/_ficus/vendor/uplot.css', /^text\/css/],
    ] as const) {
      const answer = await request(h.url, { path });
      expect(answer.status, path).toBe(200);
      expect(answer.headers['content-type'], path).toMatch(type);
    }
    expect((await request(h.url, { path: '/_ficus/vendor/uplot.js' })).body).toContain(
      'export { uPlot as default }',
    );
    for (const path of [
      '/_ficus/assets/nope.js',
      '/_ficus/assets/..%2Fstatic.ts',
      '/_ficus/assets/%2e%2e/static.ts',
      '/_ficus/vendor/package.json',
      '/_ficus/assets/',
    ]) {
      const answer = await request(h.url, { path });
      expect(answer.status, path).toBe(404);
    }
    expect(h.legacy.seen.length).toBe(seen);
  });
});

describe('the dashboard API', () => {
  it.each([
    ['GET', '/overview'],
    ['GET', '/series/products'],
    ['GET', '/unclaimed'],
    ['GET', '/sync'],
    ['POST', '/sync/services/catalog/reconcile'],
    ['GET', '/events'],
    ['GET', '/session'],
    ['POST', '/session'],
    ['DELETE', '/session'],
  ])('refuses %s %s without a token or a session', async (method, path) => {
    const answer = await request(h.url, { method, path: `/_ficus/api${path}` });
    expect(answer.status).toBe(401);
    expect(answer.json()).toMatchObject({ error: { code: 'FICUS_UNAUTHORIZED' } });
  });

  it('signs in with the admin token and answers with an HttpOnly, SameSite=Strict cookie', async () => {
    const answer = await request(h.url, {
      method: 'POST',
      path: '/_ficus/api/session',
      headers: { ...bearer, 'content-type': 'application/json' },
      body: JSON.stringify({ actor: 'maria' }),
    });
    expect(answer.status).toBe(200);
    expect(answer.json()).toMatchObject({ actor: 'maria' });
    const cookie = answer.headers['set-cookie']?.[0] ?? '';
    expect(cookie).toMatch(
      /^ficus_session=[^;]+; Path=\/_ficus; HttpOnly; SameSite=Strict; Max-Age=43200$/,
    );
    expect(cookie).not.toContain(ADMIN_TOKEN);
  });

  it('signs in only with the token: a session cannot renew itself, and guard is not a name', async () => {
    const cookie = await signIn(h.url, 'maria');
    const renewed = await request(h.url, {
      method: 'POST',
      path: '/_ficus/api/session',
      headers: { cookie, 'x-ficus-dashboard': '1', 'content-type': 'application/json' },
      body: JSON.stringify({ actor: 'someone-else' }),
    });
    expect(renewed.status).toBe(401);
    expect(renewed.headers['set-cookie']).toBeUndefined();
    const guard = await request(h.url, {
      method: 'POST',
      path: '/_ficus/api/session',
      headers: { ...bearer, 'content-type': 'application/json' },
      body: JSON.stringify({ actor: 'Guard' }),
    });
    expect(guard.status).toBe(400);
    expect(guard.body).toContain('actor must not be guard or file');
  });

  it('refuses to sign in with a wrong token and sets no cookie', async () => {
    const answer = await request(h.url, {
      method: 'POST',
      path: '/_ficus/api/session',
      headers: { authorization: 'Bearer not-the-admin-token-at-all' },
    });
    expect(answer.status).toBe(401);
    expect(answer.headers['set-cookie']).toBeUndefined();
  });

  it('accepts the session cookie for reads, and for changes that carry X-Ficus-Dashboard', async () => {
    const cookie = await signIn(h.url, 'maria');
    const session = await request(h.url, { path: '/_ficus/api/session', headers: { cookie } });
    expect(session.json()).toMatchObject({ actor: 'maria' });
    expect(
      (await request(h.url, { path: '/_ficus/api/overview', headers: { cookie } })).status,
    ).toBe(200);
    expect((await request(h.url, { path: '/_ficus/api/routes', headers: { cookie } })).status).toBe(
      200,
    );

    const change = JSON.stringify({ mode: 'shadow', reason: 'compare before moving' });
    const withoutHeader = await request(h.url, {
      method: 'PATCH',
      path: '/_ficus/api/routes/products',
      headers: { cookie, 'content-type': 'application/json' },
      body: change,
    });
    expect(withoutHeader.status).toBe(403);
    expect(withoutHeader.json()).toMatchObject({ error: { code: 'FICUS_FORBIDDEN' } });
    expect(h.store.current().table.routes[0]!.mode).toBe('legacy');

    const withHeader = await request(h.url, {
      method: 'PATCH',
      path: '/_ficus/api/routes/products',
      headers: { cookie, 'content-type': 'application/json', 'x-ficus-dashboard': '1' },
      body: change,
    });
    expect(withHeader.status).toBe(200);
    // The session's actor goes into the history.
    expect(h.store.current()).toMatchObject({ actor: 'maria', reason: 'compare before moving' });
  });

  it('refuses a tampered or foreign cookie', async () => {
    const cookie = await signIn(h.url, 'maria');
    const [payload, signature] = cookie.slice('ficus_session='.length).split('.');
    const forged = Buffer.from(
      JSON.stringify({ a: 'mallory', e: Date.now() + 1e9, n: 'x' }),
    ).toString('base64url');
    for (const value of [
      `ficus_session=${forged}.${signature}`,
      `ficus_session=${payload}.${signature}x`,
      `ficus_session=${payload}`,
      `ficus_session=${createSessionSigner({ token: 'another-gateways-token-0123' }).issue('maria').value}`,
    ]) {
      const answer = await request(h.url, {
        path: '/_ficus/api/overview',
        headers: { cookie: value },
      });
      expect(answer.status, value).toBe(401);
    }
  });

  it('signs out by clearing the cookie', async () => {
    const cookie = await signIn(h.url);
    const answer = await request(h.url, {
      method: 'DELETE',
      path: '/_ficus/api/session',
      headers: { cookie, 'x-ficus-dashboard': '1' },
    });
    expect(answer.status).toBe(204);
    expect(answer.headers['set-cookie']?.[0]).toMatch(/^ficus_session=; .*Max-Age=0/);
  });
});

describe('session cookies', () => {
  it('expire', () => {
    let now = 1_000_000;
    const signer = createSessionSigner({ token: ADMIN_TOKEN, ttlMs: 1000, now: () => now });
    const { value } = signer.issue('maria');
    expect(signer.verify(`other=1; ficus_session=${value}`)).toEqual({
      actor: 'maria',
      expiresAt: 1_001_000,
    });
    now += 1000;
    expect(signer.verify(`ficus_session=${value}`)).toBeUndefined();
  });

  it('stop working when the admin token changes', () => {
    const { value } = createSessionSigner({ token: ADMIN_TOKEN }).issue('maria');
    expect(
      createSessionSigner({ token: `${ADMIN_TOKEN}-rotated` }).verify(`ficus_session=${value}`),
    ).toBeUndefined();
  });
});

describe('with an admin host', () => {
  it('answers the dashboard and the admin API only for that host name; health and metrics for any', async () => {
    const own = await startDashboardHarness(
      ({ legacy }) => ({ legacy, routes: [] }),
      {},
      { adminHost: 'ficus-admin.internal' },
    );
    try {
      const as = (host: string, path: string) =>
        request(own.url, { path, headers: { ...bearer, host } });
      expect((await as('shop.example', '/_ficus/')).status).toBe(404);
      expect((await as('shop.example', '/_ficus/api/routes')).status).toBe(404);
      expect((await as('shop.example', '/_FICUS/api/routes')).status).toBe(404);
      expect((await as('shop.example', '/_ficus/health')).status).toBe(200);
      expect((await as('shop.example', '/_ficus/metrics')).status).toBe(200);
      expect((await as('ficus-admin.internal:8080', '/_ficus/')).status).toBe(200);
      expect((await as('FICUS-ADMIN.internal', '/_ficus/api/routes')).status).toBe(200);
      expect(own.legacy.seen).toEqual([]);
    } finally {
      await own.close();
    }
  });
});
