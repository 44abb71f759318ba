/**
 * The admin client against a real listening server: every call, the server's errors as
 * FicusErrors, and clear messages for a refused token, a gateway that is not there, and a server
 * that is not a gateway.
 */
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FicusError } from '../../../common/index.js';
import { createAdminClient, createAdminRouter } from '../../../gateway/admin/index.js';
import { RouteTableError } from '../../../gateway/route-table/index.js';
import { createFileRouteStore, type RouteStore } from '../../../gateway/store/index.js';
import { createTempDir, routeOf, SAMPLE_YAML, sampleTable } from '../store/fixtures.js';

const TOKEN = 'client-test-token-0123456789';

let temp: { dir: string; remove(): Promise<void> };
let store: RouteStore;
let server: http.Server;
let url: string;

function listen(handler: http.RequestListener): Promise<{ server: http.Server; url: string }> {
  return new Promise((resolve) => {
    const started = http.createServer(handler).listen(0, '127.0.0.1', () => {
      const { port } = started.address() as AddressInfo;
      resolve({ server: started, url: `http://127.0.0.1:${port}` });
    });
  });
}

function close(target: http.Server): Promise<void> {
  return new Promise((resolve, reject) => {
    target.close((err) => (err ? reject(err) : resolve()));
    target.closeAllConnections();
  });
}

beforeAll(async () => {
  temp = await createTempDir();
  const file = path.join(temp.dir, 'routes.yaml');
  await writeFile(file, SAMPLE_YAML);
  store = await createFileRouteStore({ file });
  const app = express();
  app.use('/_ficus/api', createAdminRouter({ store, token: TOKEN }));
  ({ server, url } = await listen(app));
});

afterAll(async () => {
  await close(server);
  await store.close();
  await temp.remove();
});

describe('admin client', () => {
  it('reads, changes, lists and restores the route table', async () => {
    const client = createAdminClient({ url: `${url}/`, token: TOKEN, actor: 'cli-user' });
    const first = await client.routes();
    expect(first).toEqual(store.current());

    const changed = await client.setMode('orders', {
      mode: 'canary',
      weight: 20,
      reason: 'canary step',
    });
    expect(changed).toMatchObject({ version: first.version + 1, actor: 'cli-user' });
    expect(routeOf(changed, 'orders')).toMatchObject({ mode: 'canary', weight: 20 });

    const history = await client.history();
    expect(history.map((version) => version.version)).toEqual([changed.version, first.version]);
    expect(await client.version(first.version)).toEqual(first);

    const restored = await client.restore(first.version, 'back to legacy');
    expect(restored).toMatchObject({ kind: 'restore', restoredFrom: first.version });
    expect(routeOf(restored, 'orders').mode).toBe('legacy');

    const table = sampleTable();
    table.routes[0]!.mode = 'new';
    const updated = await client.update(table, 'product detail moved');
    expect(routeOf(updated, 'product-detail').mode).toBe('new');
    expect(store.current()).toEqual(updated);
  });

  it('turns a refused table into a RouteTableError with its problems', async () => {
    const client = createAdminClient({ url, token: TOKEN });
    const error = await client
      .setMode('static', { mode: 'new', reason: 'x' })
      .catch((err: unknown) => err);
    expect(error).toBeInstanceOf(RouteTableError);
    expect((error as RouteTableError).problems).toEqual([
      { route: 'static', field: 'routes[2].service', message: expect.any(String) as unknown },
    ]);
  });

  it('carries the server code, message, status and field', async () => {
    const client = createAdminClient({ url, token: TOKEN });
    await expect(client.restore(999, 'x')).rejects.toMatchObject({
      code: 'FICUS_VERSION_NOT_FOUND',
      statusCode: 404,
      message: expect.stringMatching(/no route table version 999/) as unknown,
    });
    await expect(client.setMode('orders', { mode: 'new', reason: '' })).rejects.toMatchObject({
      code: 'FICUS_REQUEST_INVALID',
      field: 'reason',
    });
  });

  it('says when the token is refused', async () => {
    const client = createAdminClient({ url, token: 'wrong-token' });
    const error = await client.routes().catch((err: unknown) => err);
    expect(error).toBeInstanceOf(FicusError);
    expect(error).toMatchObject({ code: 'FICUS_UNAUTHORIZED', statusCode: 401 });
    expect((error as Error).message).toMatch(/refused the admin token.*FICUS_ADMIN_TOKEN/);
  });

  it('says when the gateway cannot be reached', async () => {
    const gone = await listen(() => undefined);
    await close(gone.server);
    const client = createAdminClient({ url: gone.url, token: TOKEN });
    await expect(client.routes()).rejects.toMatchObject({
      code: 'FICUS_GATEWAY_UNREACHABLE',
      message: expect.stringMatching(
        /cannot reach the gateway at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/,
      ) as unknown,
    });
  });

  it('says when the gateway does not answer in time', async () => {
    const silent = await listen(() => undefined);
    try {
      const client = createAdminClient({ url: silent.url, token: TOKEN, timeoutMs: 200 });
      await expect(client.routes()).rejects.toMatchObject({ code: 'FICUS_GATEWAY_TIMEOUT' });
    } finally {
      await close(silent.server);
    }
  });

  it('says when the URL is not a ficus gateway', async () => {
    const other = await listen((_req, res) => {
      res.writeHead(404, { 'content-type': 'text/html' }).end('<h1>Not Found</h1>');
    });
    try {
      const client = createAdminClient({ url: other.url, token: TOKEN });
      await expect(client.routes()).rejects.toMatchObject({
        code: 'FICUS_ADMIN_RESPONSE_INVALID',
        message: expect.stringMatching(
          /answered 404 .*is http:\/\/127\.0\.0\.1:\d+ a ficus gateway/,
        ) as unknown,
      });
    } finally {
      await close(other.server);
    }
  });

  it('refuses a URL that is not http', () => {
    expect(() => createAdminClient({ url: 'localhost:8080', token: TOKEN })).toThrow(
      /must start with http/,
    );
  });
});
