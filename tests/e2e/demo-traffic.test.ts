/**
 * The demo's storefront traffic against the real monolith: the mix of browsing, reviews and
 * orders is made of requests the monolith accepts (no 5xx, hardly any 4xx), at about the rate
 * asked for, and it writes (reviews and orders appear).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startDemoTraffic } from '../../cli/demo-traffic.js';
import {
  createLegacyDatabase,
  startLegacyMonolith,
  type RunningLegacyMonolith,
} from '../../legacy-monolith/index.js';
import { waitUntil } from '../cdc/harness.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';

let database: TestDatabase;
let monolith: RunningLegacyMonolith;

beforeAll(async () => {
  database = await createTestDatabase('traffic');
  monolith = await startLegacyMonolith({ databaseUrl: database.url, port: 0 });
});

afterAll(async () => {
  await monolith?.close();
  await database?.drop();
});

it('sends a storefront mix the monolith accepts, at the rate asked for, including writes', async () => {
  const db = createLegacyDatabase(database.url);
  try {
    const count = async (table: string) =>
      Number((await db(table).count({ n: '*' }).first<{ n: string }>()).n);
    const [reviewsBefore, ordersBefore] = [await count('reviews'), await count('orders')];
    const traffic = startDemoTraffic({ baseUrl: monolith.url, ratePerSecond: 100 });
    const started = Date.now();
    try {
      await waitUntil(() => traffic.stats().sent >= 300, 30_000);
    } finally {
      await traffic.stop();
    }
    const seconds = (Date.now() - started) / 1000;
    const { sent, byStatus } = traffic.stats();
    expect(byStatus['5xx'] ?? 0).toBe(0);
    expect(byStatus.error ?? 0).toBe(0);
    // Some 4xx are part of a storefront (a member out of money, an item out of stock).
    expect((byStatus['4xx'] ?? 0) / sent).toBeLessThan(0.2);
    expect(sent / seconds).toBeGreaterThan(40);
    expect(await count('reviews')).toBeGreaterThan(reviewsBefore);
    expect(await count('orders')).toBeGreaterThan(ordersBefore);
  } finally {
    await db.destroy();
  }
}, 60_000);
