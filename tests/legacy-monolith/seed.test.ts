import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createLegacyDatabase,
  generateSeedData,
  migrateLegacyDatabase,
  seedLegacyDatabase,
} from '../../legacy-monolith/index.js';
import { migrationSource } from '../../legacy-monolith/migrations/index.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';

const TABLES: Record<string, string> = {
  categories: 'id',
  products: 'id',
  members: 'id',
  orders: 'id',
  order_items: 'id',
  payments: 'id',
  reviews: 'id',
  wishlist_items: 'member_id, product_id',
};

interface Seeded {
  database: TestDatabase;
  db: Knex;
  seeded: boolean;
}

async function seedFresh(prefix: string): Promise<Seeded> {
  const database = await createTestDatabase(prefix);
  const db = createLegacyDatabase(database.url);
  await migrateLegacyDatabase(db);
  return { database, db, seeded: await seedLegacyDatabase(db) };
}

/** md5 of every table's rows in primary-key order, with the row count. */
async function fingerprint(db: Knex): Promise<Record<string, { rows: number; md5: string }>> {
  const result: Record<string, { rows: number; md5: string }> = {};
  for (const [table, key] of Object.entries(TABLES)) {
    const { rows } = await db.raw<{ rows: { rows: number; md5: string }[] }>(
      `select count(*)::int as rows, md5(coalesce(string_agg(t::text, E'\\n' order by ${key}), '')) as md5 from ?? t`,
      [table],
    );
    const [row] = rows;
    if (!row) throw new Error(`no fingerprint for ${table}`);
    result[table] = row;
  }
  return result;
}

let first: Seeded;
let second: Seeded;

beforeAll(async () => {
  [first, second] = await Promise.all([seedFresh('legacy_seed_a'), seedFresh('legacy_seed_b')]);
});

afterAll(async () => {
  for (const run of [first, second]) {
    await run.db.destroy();
    await run.database.drop();
  }
});

describe('seedLegacyDatabase', () => {
  it('writes byte-identical rows into two fresh databases', async () => {
    expect(first.seeded).toBe(true);
    expect(second.seeded).toBe(true);
    const a = await fingerprint(first.db);
    const b = await fingerprint(second.db);
    expect(a).toEqual(b);
    expect(Object.fromEntries(Object.entries(a).map(([t, f]) => [t, f.rows]))).toEqual({
      categories: 8,
      products: 300,
      members: 40,
      orders: 250,
      order_items: 633,
      payments: 238,
      reviews: 800,
      wishlist_items: 123,
    });
  });

  it('is a pure function of its constants', () => {
    expect(JSON.stringify(generateSeedData())).toBe(JSON.stringify(generateSeedData()));
  });

  it('seeds only an empty database', async () => {
    const before = await fingerprint(first.db);
    expect(await seedLegacyDatabase(first.db)).toBe(false);
    expect(await fingerprint(first.db)).toEqual(before);
  });

  it('moves every id sequence past the seeded ids', async () => {
    const { db } = second;
    const [category] = await db('categories')
      .insert({ slug: 'garage', name: 'Garage' })
      .returning<{ id: number }[]>('id');
    expect(category?.id).toBe(9);
    for (const table of ['products', 'members', 'orders', 'order_items', 'payments', 'reviews']) {
      const { rows } = await db.raw<{ rows: { last: number }[] }>(
        `select last_value::int as last from pg_sequences where sequencename = ?`,
        [`${table}_id_seq`],
      );
      const max = (await db(table).max({ max: 'id' }))[0] as { max: number };
      expect(rows[0]?.last, table).toBe(max.max);
    }
  });

  it('keeps orders, items and payments consistent', async () => {
    const { db } = first;
    const mismatched = await db.raw<{ rows: unknown[] }>(`
      select o.id from orders o
      join (select order_id, sum(quantity * unit_price) as total from order_items group by order_id) i
        on i.order_id = o.id
      left join payments p on p.order_id = o.id
      where i.total <> o.total
         or (o.status = 'paid' and (p.id is null or p.amount <> o.total or p.member_id <> o.member_id))
         or (o.status <> 'paid' and p.id is not null)
    `);
    expect(mismatched.rows).toEqual([]);
    const orphans = await db('orders')
      .whereNotExists(db('order_items').whereRaw('order_items.order_id = orders.id'))
      .count({ n: '*' });
    expect(Number(orphans[0]?.n)).toBe(0);
  });

  it('includes sold-out products and products with one left', async () => {
    const { db } = first;
    const rows = await db('products')
      .select(db.raw('count(*) filter (where stock = 0)::int as zero'))
      .select(db.raw('count(*) filter (where stock = 1)::int as one'))
      .select(db.raw('max(stock) as max'))
      .first<{ zero: number; one: number; max: number }>();
    expect(rows.zero).toBeGreaterThanOrEqual(3);
    expect(rows.one).toBeGreaterThanOrEqual(3);
    expect(rows.max).toBeLessThanOrEqual(200);
  });
});

describe('migrations', () => {
  it('records the static migration names, whatever the file extension', async () => {
    const names = (await first.db('knex_migrations').orderBy('id').pluck('name')) as string[];
    expect(names).toEqual([
      '001-catalog',
      '002-members',
      '003-orders',
      '004-reviews',
      '005-wishlists',
    ]);
    await migrateLegacyDatabase(first.db);
    expect(await first.db('knex_migrations').count({ n: '*' })).toEqual([{ n: 5 }]);
  });

  it('rolls all the way back and forward again', async () => {
    const { db } = second;
    await db.migrate.rollback({ migrationSource }, true);
    expect(await db.schema.hasTable('products')).toBe(false);
    await migrateLegacyDatabase(db);
    expect(await db.schema.hasTable('wishlist_items')).toBe(true);
    expect(await seedLegacyDatabase(db)).toBe(true);
  });

  it('enforces the schema constraints', async () => {
    const { db } = first;
    await expect(db('products').where('id', 1).update({ stock: -1 })).rejects.toThrow(
      /products_stock_non_negative/,
    );
    await expect(db('members').where('id', 1).update({ balance: '-0.01' })).rejects.toThrow(
      /members_balance_non_negative/,
    );
    await expect(
      db('reviews').insert({ product_id: 1, member_id: 1, rating: 6, title: 't', body: 'b' }),
    ).rejects.toThrow(/reviews_rating_range/);
    await expect(
      db('orders').insert({ member_id: 1, status: 'shipped', total: '1.00' }),
    ).rejects.toThrow(/orders_status_known/);
  });
});
