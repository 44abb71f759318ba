/**
 * The catalog service against the monolith it replaces: a seeded monolith database streams its
 * catalog tables through a real CDC connector into the catalog's own database, and every answer
 * (status and body text) must equal the monolith's, before and after changes in the monolith.
 */
import knex, { type Knex } from 'knex';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmbeddedSink, type ChangeRecord } from '../../cdc/index.js';
import {
  CATALOG_SOURCE_TABLES,
  createCatalogService,
  startCatalogService,
  type CatalogService,
} from '../../extracted-services/catalog/index.js';
import {
  createLegacyApp,
  createLegacyDatabase,
  migrateLegacyDatabase,
  seedLegacyDatabase,
} from '../../legacy-monolith/index.js';
import {
  createCdcDatabase,
  startTestConnector,
  waitUntil,
  type CdcDatabase,
  type TestConnector,
} from '../cdc/harness.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';

type App = Parameters<typeof request>[0];

let source: CdcDatabase;
let monolithDb: Knex;
let monolith: App;
let serviceDatabase: TestDatabase;
let catalogDb: Knex;
let catalog: CatalogService;
let cdc: TestConnector;
/** The batches the connector delivered, as delivered. */
const delivered: ChangeRecord[][] = [];
let insertedProductId: number;

interface Answer {
  status: number;
  contentType: string | undefined;
  text: string;
}

async function get(app: App, path: string): Promise<Answer> {
  const res = await request(app).get(path);
  return {
    status: res.status,
    contentType: res.headers['content-type'],
    text: res.text,
  };
}

/** Both answers for each path, side by side, in one object so a failure shows the path. */
async function compare(paths: readonly string[]) {
  const out: Record<string, { catalog: Answer; monolith: Answer }> = {};
  for (const path of paths)
    out[path] = { catalog: await get(catalog.app, path), monolith: await get(monolith, path) };
  return out;
}

async function expectIdentical(paths: readonly string[]): Promise<void> {
  for (const [path, answers] of Object.entries(await compare(paths)))
    expect({ path, ...answers.catalog }).toEqual({ path, ...answers.monolith });
}

async function waitForIdentical(paths: readonly string[], timeoutMs = 10_000): Promise<void> {
  let differing: string[] = [];
  await waitUntil(
    async () => {
      const answers = await compare(paths);
      differing = Object.entries(answers)
        .filter(
          ([, a]) => a.catalog.status !== a.monolith.status || a.catalog.text !== a.monolith.text,
        )
        .map(([path]) => path);
      return differing.length === 0;
    },
    timeoutMs,
    () => `; still differing: ${differing.join(', ')}`,
  );
}

/** Every page of `/products` at `pageSize` (with `query`), plus the page past the end. */
function pagesOf(total: number, pageSize: number, query = ''): string[] {
  const last = Math.max(1, Math.ceil(total / pageSize));
  return Array.from(
    { length: last + 1 },
    (_, i) => `/products?pageSize=${pageSize}&page=${i + 1}${query}`,
  );
}

async function productCount(where: Record<string, unknown> = {}): Promise<number> {
  const row = await monolithDb('products')
    .where(where)
    .count({ total: '*' })
    .first<{ total: number }>();
  return Number(row.total);
}

beforeAll(async () => {
  source = await createCdcDatabase();
  monolithDb = createLegacyDatabase(source.url);
  await migrateLegacyDatabase(monolithDb);
  await seedLegacyDatabase(monolithDb);
  monolith = createLegacyApp({ db: monolithDb });

  serviceDatabase = await createTestDatabase('catalog');
  catalogDb = knex({ client: 'pg', connection: serviceDatabase.url, pool: { min: 0, max: 5 } });
  catalog = createCatalogService({ db: catalogDb });
  await catalog.migrate();

  cdc = await startTestConnector(source.url, {
    tableIncludeList: [...CATALOG_SOURCE_TABLES],
    sink: createEmbeddedSink([
      async (batch) => {
        delivered.push([...batch]);
        await catalog.handle(batch);
      },
    ]),
  });
  await waitForIdentical(pagesOf(300, 100));
});

afterAll(async () => {
  await cdc?.stop();
  await catalogDb?.destroy();
  await serviceDatabase?.drop();
  await monolithDb?.destroy();
  await source?.cleanup();
});

describe('catalog service after the snapshot', () => {
  it.each([1, 7, 20, 100])(
    'answers every page of /products at pageSize %i as the monolith does',
    async (pageSize) => {
      await expectIdentical(pagesOf(await productCount(), pageSize));
    },
  );

  it('answers /products with default and partial pagination as the monolith does', async () => {
    await expectIdentical([
      '/products',
      '/products?page=2',
      '/products?pageSize=3',
      '/products?page=99999',
    ]);
  });

  it('answers every category filter, page by page, as the monolith does', async () => {
    const categories = await monolithDb('categories')
      .orderBy('id')
      .select<{ id: number; slug: string }[]>('id', 'slug');
    expect(categories).toHaveLength(8);
    for (const { id, slug } of categories)
      await expectIdentical(
        pagesOf(await productCount({ category_id: id }), 10, `&category=${slug}`),
      );
  });

  it('answers /products/:id for every product as the monolith does', async () => {
    const ids = await monolithDb('products').orderBy('id').pluck<number[]>('id');
    expect(ids).toHaveLength(300);
    await expectIdentical(ids.map((id) => `/products/${id}`));
  });

  it.each([
    '/products/999999',
    '/products/2147483647',
    '/products/0',
    '/products/abc',
    '/products/1.5',
    '/products/+1',
    '/products/2147483648',
    '/products?page=0',
    '/products?page=abc',
    '/products?pageSize=500',
    '/products?pageSize=0',
    '/products?pageSize=',
    '/products?page=1&page=2',
    '/products?category=no-such-category',
    '/products?category=',
    '/products?category=a&category=b',
    `/products?category=${'x'.repeat(60)}`,
    '/products/',
    '/nope',
    '/products/1/extra',
    '/health',
  ])('answers %s as the monolith does', async (path) => {
    await expectIdentical([path]);
  });

  it('answers a malformed JSON body on a GET as the monolith does', async () => {
    const send = (app: App) =>
      request(app).get('/products').set('Content-Type', 'application/json').send('{"oops');
    const [mine, theirs] = await Promise.all([send(catalog.app), send(monolith)]);
    expect({ status: mine.status, text: mine.text }).toEqual({
      status: theirs.status,
      text: theirs.text,
    });
  });

  it('skips every record when the same batches are delivered again', async () => {
    let applied = 0;
    let skipped = 0;
    for (const batch of delivered) {
      const result = await catalog.handle(batch);
      applied += result.applied;
      skipped += result.skipped;
    }
    expect({ applied, skipped }).toEqual({ applied: 0, skipped: 8 + 300 + 800 });
    await expectIdentical([...pagesOf(300, 100), '/products/1', '/products/13']);
  });

  it('answers as before when the whole history is replayed as one batch', async () => {
    await catalog.handle(delivered.flat());
    await expectIdentical([...pagesOf(300, 100), '/products/1', '/products/13']);
  });
});

describe('catalog service following changes in the monolith', () => {
  it('reflects a price change', async () => {
    await monolithDb('products')
      .where({ id: 5 })
      .update({ price: '12.34', updated_at: monolithDb.fn.now(3) });
    await waitForIdentical(['/products/5', '/products?pageSize=10']);
    const body = JSON.parse((await get(catalog.app, '/products/5')).text) as { price: string };
    expect(body.price).toBe('12.34');
  });

  it('reflects a review posted through the monolith API on a product that had none', async () => {
    const posted = await request(monolith)
      .post('/products/13/reviews')
      .send({ memberId: 1, rating: 4, title: 'Solid', body: 'Does the job.' });
    expect(posted.status).toBe(201);
    await waitForIdentical(['/products/13', '/products?pageSize=20']);
    const body = JSON.parse((await get(catalog.app, '/products/13')).text) as { rating: unknown };
    expect(body.rating).toEqual({ average: '4.00', count: 1 });
  });

  it('reflects a deleted review and a review moved to another product', async () => {
    const [first, second] = await monolithDb('reviews')
      .where({ product_id: 1 })
      .orderBy('id')
      .limit(2)
      .pluck<number[]>('id');
    expect(second).toBeDefined();
    await monolithDb('reviews').where({ id: first }).del();
    await monolithDb('reviews').where({ id: second }).update({ product_id: 23, rating: 1 });
    await waitForIdentical(['/products/1', '/products/23', '/products?pageSize=30']);
  });

  it('reflects an inserted product in a new category', async () => {
    const [category] = await monolithDb('categories')
      .insert({ slug: 'potting-shed', name: 'Potting shed' })
      .returning<{ id: number }[]>('id');
    const [product] = await monolithDb('products')
      .insert({
        sku: 'GAR-0001',
        name: 'Watering can',
        description: 'Ten litres, galvanised "steel" ✓',
        category_id: category!.id,
        price: '24.50',
        stock: 0,
      })
      .returning<{ id: number }[]>('id');
    insertedProductId = product!.id;
    const total = await productCount();
    expect(total).toBe(301);
    await waitForIdentical([
      `/products/${product!.id}`,
      ...pagesOf(total, 100),
      ...pagesOf(1, 20, '&category=potting-shed'),
    ]);
  });

  it('answers as the monolith does after a deleted product and a renamed category', async () => {
    await monolithDb('products').where({ id: insertedProductId }).del();
    await monolithDb('categories')
      .where({ slug: 'potting-shed' })
      .update({ slug: 'yard', name: 'Yard' });
    await waitForIdentical([
      `/products/${insertedProductId}`,
      ...pagesOf(300, 100),
      '/products?category=potting-shed',
      '/products?category=yard',
      '/products/2',
    ]);
  });
});

describe('startCatalogService', () => {
  it('serves the carried copy over a real socket and closes', async () => {
    const running = await startCatalogService({ databaseUrl: serviceDatabase.url, port: 0 });
    try {
      const res = await fetch(`${running.url}/products/2`);
      expect({ status: res.status, text: await res.text() }).toEqual({
        status: 200,
        text: (await get(monolith, '/products/2')).text,
      });
    } finally {
      await running.close();
    }
  });

  it('refuses an invalid port, naming the field and the value', async () => {
    await expect(
      startCatalogService({ databaseUrl: serviceDatabase.url, port: 70000 }),
    ).rejects.toThrow('catalog service option port must be an integer from 0 to 65535, got 70000');
  });
});
