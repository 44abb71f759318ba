import { pino } from 'pino';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createLegacyApp,
  createLegacyDatabase,
  type PageJson,
  type ProductJson,
} from '../../legacy-monolith/index.js';
import { postgresAdminUrl, withDatabase } from '../support/postgres.js';
import {
  createSeededMonolith,
  expectedProduct,
  seed,
  seededProduct,
  type SeededMonolith,
} from './harness.js';

let monolith: SeededMonolith;

beforeAll(async () => {
  monolith = await createSeededMonolith('legacy_catalog');
});

afterAll(async () => {
  await monolith.close();
});

describe('GET /health', () => {
  it('answers ok as JSON', async () => {
    const res = await request(monolith.app).get('/health');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.text).toBe('{"status":"ok"}');
  });
});

describe('GET /categories', () => {
  it('lists every category by id as { id, name, slug }', async () => {
    const res = await request(monolith.app).get('/categories');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      items: seed.categories.map((c) => ({ id: c.id, name: c.name, slug: c.slug })),
    });
    expect(res.text).toMatch(/^\{"items":\[\{"id":1,"name":"Kitchen","slug":"kitchen"\},/);
    expect((res.body as { items: unknown[] }).items).toHaveLength(8);
  });
});

describe('GET /products', () => {
  it('renders a product byte for byte: key order, money as strings, ISO timestamps', async () => {
    const res = await request(monolith.app).get('/products/1');
    expect(res.status).toBe(200);
    expect(res.text).toBe(
      '{"id":1,"sku":"KIT-0001","name":"Urban Black Skillet",' +
        '"description":"Meet an urban skillet in black, built for daily use. Comes with a ten-year guarantee.",' +
        '"category":{"id":1,"slug":"kitchen","name":"Kitchen"},"price":"131.99","stock":43,' +
        '"rating":{"average":"4.00","count":3},' +
        '"createdAt":"2025-01-01T00:48:00.000Z","updatedAt":"2025-01-24T00:48:00.000Z"}',
    );
  });

  it('serves the first page of 20 by id with the total by default', async () => {
    const res = await request(monolith.app).get('/products');
    expect(res.status).toBe(200);
    const body = res.body as PageJson<ProductJson>;
    expect(body.page).toBe(1);
    expect(body.pageSize).toBe(20);
    expect(body.total).toBe(300);
    expect(body.items.map((p) => p.id)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(Object.keys(body)).toEqual(['items', 'page', 'pageSize', 'total']);
  });

  it('matches the seeded catalog for every product, rating summaries included', async () => {
    const items: ProductJson[] = [];
    for (const page of [1, 2, 3]) {
      const res = await request(monolith.app).get(`/products?page=${page}&pageSize=100`);
      expect(res.status).toBe(200);
      items.push(...(res.body as PageJson<ProductJson>).items);
    }
    expect(items).toHaveLength(300);
    expect(items).toEqual(seed.products.map((p) => expectedProduct(p.id)));
    expect(items.filter((p) => p.rating.average === null).length).toBeGreaterThan(0);
    expect(items.filter((p) => p.stock === 0).length).toBeGreaterThan(0);
  });

  it.each([
    { query: 'page=3&pageSize=7', ids: [15, 16, 17, 18, 19, 20, 21] },
    { query: 'page=43&pageSize=7', ids: [295, 296, 297, 298, 299, 300] },
    { query: 'page=44&pageSize=7', ids: [] },
    { query: 'page=1&pageSize=1', ids: [1] },
  ])('paginates ?$query', async ({ query, ids }) => {
    const res = await request(monolith.app).get(`/products?${query}`);
    expect(res.status).toBe(200);
    const body = res.body as PageJson<ProductJson>;
    expect(body.items.map((p) => p.id)).toEqual(ids);
    expect(body.total).toBe(300);
  });

  it('filters by category slug, paginating within the category', async () => {
    const books = seed.products.filter((p) => p.category_id === 3).map((p) => p.id);
    const first = await request(monolith.app).get('/products?category=books&pageSize=10');
    const second = await request(monolith.app).get('/products?category=books&pageSize=10&page=2');
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    const a = first.body as PageJson<ProductJson>;
    const b = second.body as PageJson<ProductJson>;
    expect(a.total).toBe(books.length);
    expect(b.total).toBe(books.length);
    expect([...a.items, ...b.items].map((p) => p.id)).toEqual(books.slice(0, 20));
    expect(new Set(a.items.map((p) => p.category.slug))).toEqual(new Set(['books']));
  });

  it.each([
    ['page=0', 'page', 'page must be an integer from 1 to 2147483647, got "0"'],
    ['page=-1', 'page', 'page must be an integer from 1 to 2147483647, got "-1"'],
    ['page=abc', 'page', 'page must be an integer from 1 to 2147483647, got "abc"'],
    ['page=1.5', 'page', 'page must be an integer from 1 to 2147483647, got "1.5"'],
    ['page=', 'page', 'page must be an integer from 1 to 2147483647, got ""'],
    ['page=1&page=2', 'page', 'page must be an integer from 1 to 2147483647, got ["1","2"]'],
    ['pageSize=500', 'pageSize', 'pageSize must be an integer from 1 to 100, got "500"'],
    ['pageSize=0', 'pageSize', 'pageSize must be an integer from 1 to 100, got "0"'],
    ['pageSize=101', 'pageSize', 'pageSize must be an integer from 1 to 100, got "101"'],
    ['pageSize=1e1', 'pageSize', 'pageSize must be an integer from 1 to 100, got "1e1"'],
    [
      'category=garage',
      'category',
      'category must be the slug of an existing category, got "garage"',
    ],
    ['category=', 'category', 'category must be the slug of an existing category, got ""'],
  ])('refuses ?%s with a 400 naming %s', async (query, field, message) => {
    const res = await request(monolith.app).get(`/products?${query}`);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: { code: 'VALIDATION_FAILED', message, field } });
  });
});

describe('GET /products/:id', () => {
  it('renders a product without reviews with a null average', async () => {
    const res = await request(monolith.app).get('/products/3');
    expect(res.status).toBe(200);
    expect(res.body).toEqual(expectedProduct(3));
    expect((res.body as ProductJson).rating).toEqual({ average: null, count: 0 });
  });

  it('shows a sold-out product with stock 0', async () => {
    const soldOut = seed.products.find((p) => p.stock === 0);
    expect(soldOut).toBeDefined();
    const res = await request(monolith.app).get(`/products/${soldOut?.id}`);
    expect(res.status).toBe(200);
    expect((res.body as ProductJson).stock).toBe(0);
    expect((res.body as ProductJson).price).toBe(seededProduct(soldOut?.id ?? 0).price);
  });

  it('answers 404 for an unknown id', async () => {
    const res = await request(monolith.app).get('/products/999999');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: { code: 'NOT_FOUND', message: 'product 999999 not found' } });
  });

  it.each(['abc', '0', '-1', '1.5', '2147483648', '1e3', '%20'])(
    'answers 400 naming id for /products/%s',
    async (id) => {
      const res = await request(monolith.app).get(`/products/${id}`);
      expect(res.status).toBe(400);
      const body = res.body as { error: { code: string; field: string; message: string } };
      expect(body.error.code).toBe('VALIDATION_FAILED');
      expect(body.error.field).toBe('id');
      expect(body.error.message).toMatch(/^id must be an integer from 1 to 2147483647, got "/);
    },
  );
});

describe('errors', () => {
  it.each([
    ['GET', '/nope'],
    ['POST', '/products'],
    ['DELETE', '/products/1'],
  ] as const)('answers %s %s (no such route) with a 404 JSON error', async (method, path) => {
    const lower = method.toLowerCase() as Lowercase<typeof method>;
    const res = await request(monolith.app)[lower](path);
    expect(res.status).toBe(404);
    expect(res.body).toEqual({
      error: { code: 'NOT_FOUND', message: `no route for ${method} ${path}` },
    });
  });

  it('answers malformed JSON with 400 INVALID_JSON', async () => {
    const res = await request(monolith.app)
      .post('/orders')
      .set('Content-Type', 'application/json')
      .send('{"memberId": 1, "items": [');
    expect(res.status).toBe(400);
    const body = res.body as { error: { code: string; message: string } };
    expect(body.error.code).toBe('INVALID_JSON');
    expect(body.error.message).toMatch(/^request body is not valid JSON: /);
  });

  it('answers a JSON body that is not an object with a 400 about the whole body', async () => {
    const res = await request(monolith.app).post('/orders').send([1]);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      error: {
        code: 'VALIDATION_FAILED',
        message:
          'request body must be a JSON object sent as Content-Type: application/json, got an array of 1 item',
      },
    });
  });

  it('answers a body sent without a JSON content type with a 400', async () => {
    const res = await request(monolith.app)
      .post('/orders')
      .set('Content-Type', 'text/plain')
      .send('memberId=1');
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      error: {
        code: 'VALIDATION_FAILED',
        message:
          'request body is required and must be a JSON object sent as Content-Type: application/json',
      },
    });
  });

  it('answers a body over 100kb with 413', async () => {
    const res = await request(monolith.app)
      .post('/products/1/reviews')
      .send({ memberId: 1, rating: 5, title: 'big', body: 'x'.repeat(200_000) });
    expect(res.status).toBe(413);
    expect((res.body as { error: { code: string } }).error.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('answers unexpected failures with a 500 that leaks nothing, and logs them', async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = pino(
      { level: 'debug' },
      { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) },
    );
    const missing = `legacy_missing_${process.pid}`;
    const db = createLegacyDatabase(withDatabase(postgresAdminUrl(), missing));
    try {
      const res = await request(createLegacyApp({ db, logger })).get('/products/1');
      expect(res.status).toBe(500);
      expect(res.body).toEqual({ error: { code: 'FICUS_INTERNAL', message: 'internal error' } });
      expect(res.text).not.toContain(missing);
      const failure = lines.find((line) => line.msg === 'request failed');
      expect(failure).toMatchObject({ level: 50, method: 'GET', path: '/products/1' });
      expect(JSON.stringify(failure)).toContain(missing);
      expect(lines.find((line) => line.msg === 'request')).toMatchObject({
        level: 20,
        method: 'GET',
        path: '/products/1',
        status: 500,
        ms: expect.any(Number) as unknown,
      });
    } finally {
      await db.destroy();
    }
  });
});
