/**
 * Two gateway replicas on one Postgres route store: a change made through one replica's admin API
 * is routed by the other within a second.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createGateway,
  createPostgresRouteStore,
  type Gateway,
  type RouteStore,
} from '../../gateway/index.js';
import { waitUntil } from '../cdc/harness.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { startUpstream, type FakeUpstream } from '../support/upstream.js';
import { ADMIN_TOKEN, request } from './harness.js';

let db: TestDatabase;
let legacy: FakeUpstream;
let service: FakeUpstream;
const replicas: { gateway: Gateway; store: RouteStore; url: string }[] = [];

beforeAll(async () => {
  [db, legacy, service] = await Promise.all([
    createTestDatabase('routes'),
    startUpstream('legacy'),
    startUpstream('service'),
  ]);
  const initial = {
    legacy: legacy.url,
    services: { catalog: service.url },
    routes: [{ id: 'products', path: '/products', service: 'catalog', mode: 'legacy' }],
  };
  for (let i = 0; i < 2; i++) {
    const store = await createPostgresRouteStore({ url: db.url, initial });
    const gateway = createGateway({ store, adminToken: ADMIN_TOKEN });
    const { url } = await gateway.listen(0);
    replicas.push({ gateway, store, url });
  }
});

afterAll(async () => {
  for (const replica of replicas) {
    await replica.gateway.close();
    await replica.store.close();
  }
  await Promise.all([legacy.close(), service.close()]);
  await db.drop();
});

describe('gateway replicas sharing a Postgres route store', () => {
  it('see each other’s changes within a second', async () => {
    const [a, b] = replicas as [(typeof replicas)[0], (typeof replicas)[0]];
    expect((await request(b.url, { path: '/products' })).json()).toMatchObject({ from: 'legacy' });
    const started = Date.now();
    const changed = await request(a.url, {
      method: 'PATCH',
      path: '/_ficus/api/routes/products',
      headers: {
        authorization: `Bearer ${ADMIN_TOKEN}`,
        'content-type': 'application/json',
        'x-ficus-actor': 'alice',
      },
      body: JSON.stringify({ mode: 'new', reason: 'catalog is ready' }),
    });
    expect(changed.status).toBe(200);
    await waitUntil(
      async () =>
        ((await request(b.url, { path: '/products' })).json() as { from: string }).from ===
        'service',
      1_000,
    );
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(b.store.current()).toMatchObject({ actor: 'alice', reason: 'catalog is ready' });
  });
});
