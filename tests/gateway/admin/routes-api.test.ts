/**
 * The admin API in-process (supertest) over a real file store: authentication, validation that
 * names route and field, changes recorded with actor and reason, versions and restore.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import express from 'express';
import request, { type Response } from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAdminRouter } from '../../../gateway/admin/index.js';
import {
  createFileRouteStore,
  type RouteStore,
  type RouteTableVersion,
} from '../../../gateway/store/index.js';
import { createTempDir, SAMPLE_YAML, sampleTable } from '../store/fixtures.js';

const TOKEN = 'admin-token-for-tests-0123456789';
const auth = { Authorization: `Bearer ${TOKEN}` };

interface ErrorJson {
  code: string;
  message: string;
  field?: string;
  problems?: { route: string | null; field: string; message: string }[];
}

const errorOf = (res: Response) => (res.body as { error: ErrorJson }).error;
const versionOf = (res: Response) => res.body as RouteTableVersion;

let temp: { dir: string; remove(): Promise<void> };
let store: RouteStore;
let app: express.Express;

beforeEach(async () => {
  temp = await createTempDir();
  const file = path.join(temp.dir, 'routes.yaml');
  await writeFile(file, SAMPLE_YAML);
  store = await createFileRouteStore({ file });
  app = express();
  app.use(
    '/_ficus/api',
    createAdminRouter({
      store,
      token: TOKEN,
      extra: (router) => {
        router.get('/stats', (_req, res) => {
          res.json({ routes: store.current().table.routes.length });
        });
        router.get('/boom', () => {
          throw new Error('secret internals');
        });
      },
    }),
  );
  // What the gateway's proxy sees: the raw body, never parsed by the admin router.
  app.post('/orders', (req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => res.json({ raw: body, parsed: req.body !== undefined }));
  });
});

afterEach(async () => {
  await store.close();
  await temp.remove();
});

describe('authentication', () => {
  it.each([
    ['GET', '/routes'],
    ['PUT', '/routes'],
    ['PATCH', '/routes/orders'],
    ['GET', '/versions'],
    ['GET', '/versions/1'],
    ['POST', '/versions/1/restore'],
    ['GET', '/stats'],
    ['GET', '/no-such-endpoint'],
  ])('refuses %s %s without a token with a JSON 401', async (method, url) => {
    const res = await request(app)[method.toLowerCase() as 'get'](`/_ficus/api${url}`);
    expect(res.status).toBe(401);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="ficus"');
    expect(res.body).toEqual({
      error: { code: 'FICUS_UNAUTHORIZED', message: expect.stringContaining('Bearer') as unknown },
    });
  });

  it.each([
    ['a wrong token', `Bearer ${TOKEN}x`],
    ['a prefix of the token', `Bearer ${TOKEN.slice(0, -1)}`],
    ['another scheme', `Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}`],
    ['an empty bearer', 'Bearer '],
  ])('refuses %s', async (_name, header) => {
    const res = await request(app).get('/_ficus/api/routes').set('Authorization', header);
    expect(res.status).toBe(401);
    expect(errorOf(res).code).toBe('FICUS_UNAUTHORIZED');
    expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="ficus"/);
  });

  it('accepts the token whatever the case of the scheme', async () => {
    const res = await request(app)
      .get('/_ficus/api/routes')
      .set('Authorization', `bearer ${TOKEN}`);
    expect(res.status).toBe(200);
  });

  it('does not parse request bodies outside the admin API', async () => {
    const res = await request(app)
      .post('/orders')
      .set('Content-Type', 'application/json')
      .send('{"items":[1,2]}');
    expect(res.body).toEqual({ raw: '{"items":[1,2]}', parsed: false });
  });
});

describe('routes', () => {
  it('answers the running version', async () => {
    const res = await request(app).get('/_ficus/api/routes').set(auth);
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toMatchObject({ version: 1, actor: 'file', kind: 'load' });
    expect(versionOf(res).table).toEqual(JSON.parse(JSON.stringify(store.current().table)));
    expect(typeof versionOf(res).at).toBe('string');
    expect(typeof versionOf(res).reason).toBe('string');
  });

  it('replaces the table, recording the actor header and the reason', async () => {
    const table = sampleTable();
    table.routes[1]!.mode = 'new';
    const res = await request(app)
      .put('/_ficus/api/routes')
      .set(auth)
      .set('X-Ficus-Actor', 'alice@shop')
      .send({ table, reason: 'orders service is live' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      version: 2,
      actor: 'alice@shop',
      reason: 'orders service is live',
      kind: 'change',
    });
    expect(store.current().version).toBe(2);
  });

  it('refuses an invalid table with problems naming route and field, and keeps the running one', async () => {
    const table = sampleTable();
    table.routes[0]!.mode = 'canary';
    (table.routes[0] as { weight?: number }).weight = 120;
    table.routes[2]!.mode = 'new';
    const res = await request(app)
      .put('/_ficus/api/routes')
      .set(auth)
      .send({ table, reason: 'too far' });
    expect(res.status).toBe(400);
    expect(errorOf(res).code).toBe('FICUS_ROUTES_INVALID');
    expect(errorOf(res).message).toMatch(/route product-detail: routes\[0\]\.weight/);
    expect(errorOf(res).problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ route: 'product-detail', field: 'routes[0].weight' }),
        expect.objectContaining({ route: 'static', field: 'routes[2].service' }),
      ]),
    );
    const after = await request(app).get('/_ficus/api/routes').set(auth);
    expect(versionOf(after).version).toBe(1);
  });

  it.each([
    ['no reason', { table: sampleTable() }, 'reason'],
    ['a blank reason', { table: sampleTable(), reason: '   ' }, 'reason'],
    ['no table', { reason: 'x' }, 'table'],
    ['the bare table', sampleTable(), 'table'],
  ])('refuses a PUT with %s, naming the field', async (_name, body, field) => {
    const res = await request(app).put('/_ficus/api/routes').set(auth).send(body);
    expect(res.status).toBe(400);
    expect(errorOf(res)).toMatchObject({ code: 'FICUS_REQUEST_INVALID', field });
    expect(store.current().version).toBe(1);
  });

  it('refuses a body that is not JSON, with JSON', async () => {
    const broken = await request(app)
      .put('/_ficus/api/routes')
      .set(auth)
      .set('Content-Type', 'application/json')
      .send('{"table":');
    expect(broken.status).toBe(400);
    expect(errorOf(broken).code).toBe('FICUS_REQUEST_INVALID');
    const text = await request(app)
      .put('/_ficus/api/routes')
      .set(auth)
      .set('Content-Type', 'text/plain')
      .send('hello');
    expect(text.status).toBe(400);
    expect(errorOf(text).message).toMatch(/Content-Type: application\/json/);
  });
});

describe('changing one route', () => {
  it('changes mode and weight, recording actor and reason', async () => {
    const res = await request(app)
      .patch('/_ficus/api/routes/product-detail')
      .set(auth)
      .set('X-Ficus-Actor', 'bob')
      .send({ mode: 'canary', weight: 5, reason: 'first canary step' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ version: 2, actor: 'bob', reason: 'first canary step' });
    const route = versionOf(res).table.routes.find((r) => r.id === 'product-detail');
    expect(route).toMatchObject({ mode: 'canary', weight: 5 });

    const weightOnly = await request(app)
      .patch('/_ficus/api/routes/product-detail')
      .set(auth)
      .send({ weight: 50, reason: 'widen' });
    expect(weightOnly.body).toMatchObject({ version: 3, actor: 'admin-api', reason: 'widen' });
  });

  it.each([
    ['no reason', { mode: 'new' }, 'reason'],
    ['an empty reason', { mode: 'new', reason: '' }, 'reason'],
    ['nothing to change', { reason: 'x' }, 'mode'],
    ['an unknown mode', { mode: 'sideways', reason: 'x' }, 'mode'],
    ['a weight over 100', { weight: 101, reason: 'x' }, 'weight'],
    ['a weight given as text', { weight: '10', reason: 'x' }, 'weight'],
    ['an unknown field', { mode: 'new', reason: 'x', wieght: 10 }, 'wieght'],
  ])('refuses %s with 400 naming the field', async (_name, body, field) => {
    const res = await request(app).patch('/_ficus/api/routes/orders').set(auth).send(body);
    expect(res.status).toBe(400);
    expect(errorOf(res)).toMatchObject({ code: 'FICUS_REQUEST_INVALID', field });
    expect(store.current().version).toBe(1);
  });

  it('answers 404 for an unknown route', async () => {
    const res = await request(app)
      .patch('/_ficus/api/routes/nope')
      .set(auth)
      .send({ mode: 'new', reason: 'x' });
    expect(res.status).toBe(404);
    expect(errorOf(res).code).toBe('FICUS_ROUTE_NOT_FOUND');
  });

  it('refuses a change the table does not allow, naming route and field', async () => {
    const res = await request(app)
      .patch('/_ficus/api/routes/static')
      .set(auth)
      .send({ mode: 'new', reason: 'x' });
    expect(res.status).toBe(400);
    expect(errorOf(res).problems).toEqual([
      expect.objectContaining({ route: 'static', field: 'routes[2].service' }),
    ]);
  });
});

describe('versions', () => {
  beforeEach(async () => {
    await request(app)
      .patch('/_ficus/api/routes/orders')
      .set(auth)
      .send({ mode: 'new', reason: 'move orders' })
      .expect(200);
  });

  it('lists versions newest first and answers one version', async () => {
    const list = await request(app).get('/_ficus/api/versions').set(auth);
    expect(list.status).toBe(200);
    expect((list.body as { versions: RouteTableVersion[] }).versions.map((v) => v.version)).toEqual(
      [2, 1],
    );
    const one = await request(app).get('/_ficus/api/versions/1').set(auth);
    expect(one.body).toMatchObject({ version: 1, kind: 'load' });
  });

  it('restores a version as a new one', async () => {
    const res = await request(app)
      .post('/_ficus/api/versions/1/restore')
      .set(auth)
      .set('X-Ficus-Actor', 'carol')
      .send({ reason: 'orders broke' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      version: 3,
      kind: 'restore',
      restoredFrom: 1,
      actor: 'carol',
      reason: 'orders broke',
    });
    expect(store.current().version).toBe(3);
    const orders = store.current().table.routes.find((route) => route.id === 'orders');
    expect(orders?.mode).toBe('legacy');
  });

  it('requires a reason to restore', async () => {
    const res = await request(app).post('/_ficus/api/versions/1/restore').set(auth).send({});
    expect(res.status).toBe(400);
    expect(errorOf(res).field).toBe('reason');
  });

  it.each([
    ['GET', '/versions/99', 404, 'FICUS_VERSION_NOT_FOUND'],
    ['POST', '/versions/99/restore', 404, 'FICUS_VERSION_NOT_FOUND'],
    ['GET', '/versions/first', 400, 'FICUS_REQUEST_INVALID'],
    ['GET', '/nothing/here', 404, 'FICUS_NOT_FOUND'],
    ['DELETE', '/routes', 405, 'FICUS_METHOD_NOT_ALLOWED'],
    ['GET', '/boom', 500, 'FICUS_INTERNAL'],
  ])('answers %s %s with %i %s as JSON', async (method, url, status, code) => {
    const agent = request(app);
    const res = await agent[method.toLowerCase() as 'get'](`/_ficus/api${url}`)
      .set(auth)
      .send({ reason: 'x' });
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(errorOf(res).code).toBe(code);
    expect(errorOf(res).message).not.toMatch(/secret internals/);
  });

  it('serves extra endpoints behind the same token', async () => {
    await request(app).get('/_ficus/api/stats').expect(401);
    const res = await request(app).get('/_ficus/api/stats').set(auth);
    expect(res.body).toEqual({ routes: 3 });
  });

  it('says where the table comes from', async () => {
    const res = await request(app).get('/_ficus/api/store').set(auth);
    expect(res.body).toMatchObject({ backend: 'file', version: 2 });
  });
});
