import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../common/index.js';
import {
  createLegacyDatabase,
  startLegacyMonolith,
  type RunningLegacyMonolith,
} from '../../legacy-monolith/index.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';

let database: TestDatabase;
let monolith: RunningLegacyMonolith;

beforeAll(async () => {
  database = await createTestDatabase('legacy_server');
  monolith = await startLegacyMonolith({ databaseUrl: database.url, port: 0 });
});

afterAll(async () => {
  await monolith.close();
  await database.drop();
});

interface Outcome {
  status: number;
  code?: string;
}

async function placeOrder(
  url: string,
  memberId: number,
  items: { productId: number; quantity: number }[],
): Promise<Outcome> {
  const res = await fetch(`${url}/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ memberId, items }),
  });
  const body = (await res.json()) as { error?: { code: string } };
  return { status: res.status, ...(body.error ? { code: body.error.code } : {}) };
}

const tally = (outcomes: Outcome[]) =>
  outcomes.reduce<Record<string, number>>((acc, o) => {
    const key = `${o.status}${o.code ? ` ${o.code}` : ''}`;
    acc[key] = (acc[key] ?? 0) + 1;
    return acc;
  }, {});

async function stockOf(db: Knex, productId: number): Promise<number> {
  const row = await db('products').where('id', productId).first<{ stock: number }>('stock');
  return row.stock;
}

/** Gives members 1..count a balance that covers anything these tests buy. */
async function fundMembers(db: Knex, count: number): Promise<number[]> {
  const ids = Array.from({ length: count }, (_, i) => i + 1);
  await db('members').whereIn('id', ids).update({ balance: '100000.00' });
  return ids;
}

describe('startLegacyMonolith', () => {
  it('listens on the port it was given (0 = any) and answers over a real socket', async () => {
    expect(monolith.port).toBeGreaterThan(0);
    expect(monolith.url).toBe(`http://127.0.0.1:${monolith.port}`);
    const res = await fetch(`${monolith.url}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
    const products = await fetch(`${monolith.url}/products?pageSize=1`);
    expect(((await products.json()) as { total: number }).total).toBe(300);
  });

  it.each([
    [{ port: 70000 }, 'legacy monolith option port must be an integer from 0 to 65535, got 70000'],
    [{ port: 1.5 }, 'legacy monolith option port must be an integer from 0 to 65535, got 1.5'],
    [{ databaseUrl: '' }, 'legacy monolith option databaseUrl must be a postgres:// URL, got ""'],
    [
      { pool: { max: 0 } },
      'legacy monolith option pool.max must be an integer from 1 to 1000, got 0',
    ],
  ])('refuses invalid options %j with a ConfigError naming the field', async (patch, message) => {
    const attempt = startLegacyMonolith({ databaseUrl: database.url, ...patch });
    await expect(attempt).rejects.toBeInstanceOf(ConfigError);
    await expect(attempt).rejects.toThrow(message);
  });

  it('reports a port that is taken', async () => {
    await expect(
      startLegacyMonolith({ databaseUrl: database.url, port: monolith.port }),
    ).rejects.toMatchObject({ code: 'FICUS_LEGACY_LISTEN' });
  });
});

describe('concurrent orders over real sockets', () => {
  it('sells the last unit exactly once: 20 buyers, one 201, nineteen 409 OUT_OF_STOCK', async () => {
    const { db, url } = monolith;
    const productId = 7;
    await db('products').where('id', productId).update({ stock: 1 });
    const members = await fundMembers(db, 20);
    const ordersBefore = await db('order_items').where('product_id', productId).count({ n: '*' });

    const outcomes = await Promise.all(
      members.map((memberId) => placeOrder(url, memberId, [{ productId, quantity: 1 }])),
    );

    expect(tally(outcomes)).toEqual({ '201': 1, '409 OUT_OF_STOCK': 19 });
    expect(await stockOf(db, productId)).toBe(0);
    const ordersAfter = await db('order_items').where('product_id', productId).count({ n: '*' });
    expect(Number(ordersAfter[0]?.n)).toBe(Number(ordersBefore[0]?.n) + 1);
  });

  it('sells a stock of 5 to exactly 5 of 30 buyers and never goes negative', async () => {
    const { db, url } = monolith;
    const productId = 8;
    await db('products').where('id', productId).update({ stock: 5 });
    const members = await fundMembers(db, 30);

    const outcomes = await Promise.all(
      members.map((memberId) => placeOrder(url, memberId, [{ productId, quantity: 1 }])),
    );

    expect(tally(outcomes)).toEqual({ '201': 5, '409 OUT_OF_STOCK': 25 });
    expect(await stockOf(db, productId)).toBe(0);
  });

  it('does not deadlock when orders lock the same products listed in opposite orders', async () => {
    const { db, url } = monolith;
    await db('products').whereIn('id', [11, 12]).update({ stock: 100 });
    const members = await fundMembers(db, 20);

    const outcomes = await Promise.all(
      members.map((memberId, i) =>
        placeOrder(
          url,
          memberId,
          i % 2 === 0
            ? [
                { productId: 11, quantity: 1 },
                { productId: 12, quantity: 2 },
              ]
            : [
                { productId: 12, quantity: 2 },
                { productId: 11, quantity: 1 },
              ],
        ),
      ),
    );

    expect(tally(outcomes)).toEqual({ '201': 20 });
    expect(await stockOf(db, 11)).toBe(80);
    expect(await stockOf(db, 12)).toBe(60);
  });

  it('debits a balance once when one member races ten orders it can afford only once', async () => {
    const { db, url } = monolith;
    const memberId = 21;
    const productId = 9;
    await db('members').where('id', memberId).update({ balance: '100.00' });
    await db('products').where('id', productId).update({ price: '60.00', stock: 50 });

    const outcomes = await Promise.all(
      Array.from({ length: 10 }, () => placeOrder(url, memberId, [{ productId, quantity: 1 }])),
    );

    expect(tally(outcomes)).toEqual({ '201': 1, '409 INSUFFICIENT_BALANCE': 9 });
    const member = await db('members').where('id', memberId).first<{ balance: string }>('balance');
    expect(member.balance).toBe('40.00');
    expect(await stockOf(db, productId)).toBe(49);
  });
});

describe('close()', () => {
  it('keeps the data on restart, waits for an in-flight order, then stops', async () => {
    // A second instance on the same database: the seed must leave the existing data alone.
    await monolith.db('products').where('id', 7).update({ stock: 42 });
    await fundMembers(monolith.db, 1);
    const second = await startLegacyMonolith({ databaseUrl: database.url, port: 0 });
    const probe = createLegacyDatabase(database.url);
    try {
      expect(await stockOf(second.db, 7)).toBe(42);

      // Hold the product row so the order blocks inside its transaction.
      const blocker = await probe.transaction();
      await blocker('products').where('id', 10).forUpdate().select('id');
      const pending = placeOrder(second.url, 1, [{ productId: 10, quantity: 1 }]);
      await waitFor(async () => {
        const rows = await probe('pg_stat_activity')
          .where({ datname: database.name, wait_event_type: 'Lock' })
          .count<{ n: number }[]>({ n: '*' });
        return (rows[0]?.n ?? 0) > 0;
      });

      const closing = second.close();
      await expect(fetch(`${second.url}/health`)).rejects.toThrow();
      const started = Date.now();
      await blocker.commit();

      expect(await pending).toEqual({ status: 201 });
      await closing;
      expect(Date.now() - started).toBeLessThan(1500);
      await expect(second.db.raw('select 1')).rejects.toThrow();
      await second.close();
    } finally {
      await second.close();
      await probe.destroy();
    }
  });
});

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
