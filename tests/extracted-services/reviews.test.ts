/**
 * The reviews service against the monolith it replaces: a seeded monolith database streams
 * products, members and reviews through a real CDC connector into the service's own database, and
 * every answer of the review endpoints (status and body text), reads, writes and refusals, must
 * equal the monolith's, before and after changes in the monolith.
 */
import { randomBytes } from 'node:crypto';
import knex, { type Knex } from 'knex';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createEmbeddedSink,
  isChangeEventValue,
  ORIGIN_HEADER,
  UNAVAILABLE_VALUE,
  type ChangeEventValue,
  type ChangeRecord,
} from '../../cdc/index.js';
import {
  createReviewsService,
  DEFAULT_WRITE_BACK_ORIGIN,
  SERVICE_REVIEW_IDS,
  WRITTEN_BY_MONOLITH,
  type ReviewJson,
  type ReviewsService,
} from '../../extracted-services/reviews/index.js';
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
type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

let source: CdcDatabase;
let monolithDb: Knex;
let monolith: App;
let serviceDatabase: TestDatabase;
let reviewsDb: Knex;
let service: ReviewsService;
let cdc: TestConnector;
/** The batches the connector delivered, as delivered. */
const delivered: ChangeRecord[][] = [];

interface Answer {
  status: number;
  contentType: string | undefined;
  text: string;
}

interface Call {
  method?: Method;
  path: string;
  /** A JSON value is sent as JSON; a string is sent as is, with `contentType`. */
  body?: unknown;
  contentType?: string;
}

async function call(app: App, { method = 'get', path, body, contentType }: Call): Promise<Answer> {
  let req = request(app)[method](path);
  if (contentType !== undefined) req = req.set('Content-Type', contentType);
  if (body !== undefined) req = req.send(body as object);
  const res = await req;
  return { status: res.status, contentType: res.headers['content-type'], text: res.text };
}

const get = (app: App, path: string) => call(app, { path });

/** Both answers for each call, one after the other (the service first). */
async function compare(calls: readonly Call[]) {
  const out: { call: Call; service: Answer; monolith: Answer }[] = [];
  for (const c of calls)
    out.push({ call: c, service: await call(service.app, c), monolith: await call(monolith, c) });
  return out;
}

async function expectIdentical(calls: readonly (Call | string)[]): Promise<void> {
  for (const answers of await compare(calls.map(toCall)))
    expect({ call: answers.call, ...answers.service }).toEqual({
      call: answers.call,
      ...answers.monolith,
    });
}

async function waitForIdentical(paths: readonly string[], timeoutMs = 10_000): Promise<void> {
  let differing: string[] = [];
  await waitUntil(
    async () => {
      const answers = await compare(paths.map(toCall));
      differing = answers
        .filter((a) => a.service.status !== a.monolith.status || a.service.text !== a.monolith.text)
        .map((a) => a.call.path);
      return differing.length === 0;
    },
    timeoutMs,
    () => `; still differing: ${differing.join(', ')}`,
  );
}

function toCall(c: Call | string): Call {
  return typeof c === 'string' ? { path: c } : c;
}

/** Every page of a product's reviews at `pageSize`, plus the page past the end. */
function pagesOf(productId: number, total: number, pageSize: number): string[] {
  const last = Math.max(1, Math.ceil(total / pageSize));
  return Array.from(
    { length: last + 1 },
    (_, i) => `/products/${productId}/reviews?pageSize=${pageSize}&page=${i + 1}`,
  );
}

async function reviewCount(productId: number): Promise<number> {
  const row = await monolithDb('reviews')
    .where({ product_id: productId })
    .count({ total: '*' })
    .first<{ total: number }>();
  return Number(row.total);
}

const valid = { memberId: 1, rating: 4, title: 'Solid', body: 'Does the job.' };
/** Incompressible and over 2 kB, so Postgres stores it out of line (TOAST). */
const longBody = randomBytes(3000).toString('base64');

beforeAll(async () => {
  source = await createCdcDatabase();
  monolithDb = createLegacyDatabase(source.url);
  await migrateLegacyDatabase(monolithDb);
  await seedLegacyDatabase(monolithDb);
  monolith = createLegacyApp({ db: monolithDb });

  serviceDatabase = await createTestDatabase('reviews');
  reviewsDb = knex({ client: 'pg', connection: serviceDatabase.url, pool: { min: 0, max: 5 } });
  service = createReviewsService({ db: reviewsDb });
  await service.migrate();

  cdc = await startTestConnector(source.url, {
    tableIncludeList: [...service.sourceTables],
    sink: createEmbeddedSink([
      async (batch) => {
        delivered.push([...batch]);
        await service.handle(batch);
      },
    ]),
  });
  await waitForIdentical(['/products/1/reviews?pageSize=100', '/products/300/reviews']);
});

afterAll(async () => {
  await cdc?.stop();
  await reviewsDb?.destroy();
  await serviceDatabase?.drop();
  await monolithDb?.destroy();
  await source?.cleanup();
});

describe('reviews service after the snapshot', () => {
  it('carries only the columns it needs', async () => {
    expect(service.sourceTables).toEqual(['public.products', 'public.members', 'public.reviews']);
    const columns = async (table: string) =>
      Object.keys(await reviewsDb(table).columnInfo()).sort();
    expect(await columns('products')).toEqual(['id']);
    expect(await columns('members')).toEqual(['id', 'name']);
    expect(await columns('reviews')).toEqual(
      [
        'body',
        'created_at',
        'id',
        'member_id',
        'product_id',
        'rating',
        'title',
        'written_by',
      ].sort(),
    );
  });

  it('answers the first page of reviews of every product as the monolith does', async () => {
    const ids = await monolithDb('products').orderBy('id').pluck<number[]>('id');
    expect(ids).toHaveLength(300);
    await expectIdentical(ids.map((id) => `/products/${id}/reviews`));
  });

  it.each([1, 2, 7, 100])(
    'answers every page of the most reviewed product at pageSize %i as the monolith does',
    async (pageSize) => {
      const [top] = await monolithDb('reviews')
        .groupBy('product_id')
        .orderByRaw('count(*) desc, product_id')
        .limit(1)
        .select<{ product_id: number }[]>('product_id');
      const total = await reviewCount(top!.product_id);
      expect(total).toBeGreaterThan(4);
      await expectIdentical(pagesOf(top!.product_id, total, pageSize));
    },
  );

  it.each([
    '/products/13/reviews',
    '/products/999999/reviews',
    '/products/2147483647/reviews',
    '/products/2147483648/reviews',
    '/products/0/reviews',
    '/products/abc/reviews',
    '/products/1.5/reviews',
    '/products/+1/reviews',
    '/products/1/reviews?page=0',
    '/products/1/reviews?page=abc',
    '/products/1/reviews?page=99999',
    '/products/1/reviews?pageSize=500',
    '/products/1/reviews?pageSize=0',
    '/products/1/reviews?pageSize=',
    '/products/1/reviews?page=1&page=2',
    '/products/999999/reviews?pageSize=500',
    '/products/1/reviews/',
    '/products/1/reviews/5',
    '/products//reviews',
    '/nope',
    '/health',
  ])('answers GET %s as the monolith does', async (path) => {
    await expectIdentical([path]);
  });

  it.each<[string, Call]>([
    ['an unknown product', { path: '/products/999999/reviews', body: valid }],
    ['a product id that is not a number', { path: '/products/abc/reviews', body: valid }],
    ['an unknown member', { path: '/products/1/reviews', body: { ...valid, memberId: 999999 } }],
    [
      'an unknown product and an unknown member',
      { path: '/products/999999/reviews', body: { ...valid, memberId: 999999 } },
    ],
    [
      'a bad rating for an unknown product',
      { path: '/products/999999/reviews', body: { ...valid, rating: 9 } },
    ],
    ['rating 0', { path: '/products/1/reviews', body: { ...valid, rating: 0 } }],
    ['rating 6', { path: '/products/1/reviews', body: { ...valid, rating: 6 } }],
    ['rating 4.5', { path: '/products/1/reviews', body: { ...valid, rating: 4.5 } }],
    ['rating "5"', { path: '/products/1/reviews', body: { ...valid, rating: '5' } }],
    ['rating null', { path: '/products/1/reviews', body: { ...valid, rating: null } }],
    ['no rating', { path: '/products/1/reviews', body: { ...valid, rating: undefined } }],
    ['memberId 0', { path: '/products/1/reviews', body: { ...valid, memberId: 0 } }],
    ['memberId "1"', { path: '/products/1/reviews', body: { ...valid, memberId: '1' } }],
    ['an empty title', { path: '/products/1/reviews', body: { ...valid, title: '' } }],
    [
      'a 201-character title',
      { path: '/products/1/reviews', body: { ...valid, title: 't'.repeat(201) } },
    ],
    [
      'a 5001-character body',
      { path: '/products/1/reviews', body: { ...valid, body: 'b'.repeat(5001) } },
    ],
    ['a body with NUL', { path: '/products/1/reviews', body: { ...valid, body: 'a\u0000b' } }],
    ['an array body', { path: '/products/1/reviews', body: [valid] }],
    ['an empty object', { path: '/products/1/reviews', body: {} }],
    [
      'a JSON string body',
      { path: '/products/1/reviews', body: '"text"', contentType: 'application/json' },
    ],
    [
      'malformed JSON',
      { path: '/products/1/reviews', body: '{"oops', contentType: 'application/json' },
    ],
    [
      'a body that is not JSON',
      { path: '/products/1/reviews', body: 'rating=5', contentType: 'text/plain' },
    ],
    ['no body', { path: '/products/1/reviews' }],
    [
      'a body over 100kb',
      { path: '/products/1/reviews', body: { ...valid, body: 'x'.repeat(120_000) } },
    ],
  ])('refuses a POST with %s as the monolith does', async (_, c) => {
    await expectIdentical([{ ...c, method: 'post' }]);
  });

  it.each<Method>(['put', 'patch', 'delete'])(
    'answers %s on a review route as the monolith does (no such route)',
    async (method) => {
      await expectIdentical([
        { method, path: '/products/1/reviews', body: valid },
        { method, path: '/products/1/reviews/1', body: valid },
      ]);
    },
  );

  it('left both sides unchanged after the refused writes', async () => {
    await expectIdentical(['/products/1/reviews?pageSize=100', '/products/999999/reviews']);
    expect(await reviewsDb('reviews').where('written_by', '<>', WRITTEN_BY_MONOLITH)).toEqual([]);
  });

  it('skips every record when the same batches are delivered again', async () => {
    let applied = 0;
    let skipped = 0;
    for (const batch of delivered) {
      const result = await service.handle(batch);
      applied += result.applied;
      skipped += result.skipped;
    }
    expect({ applied, skipped }).toEqual({ applied: 0, skipped: 300 + 40 + 800 });
    await expectIdentical(['/products/1/reviews?pageSize=100']);
  });
});

describe('reviews service following changes in the monolith', () => {
  it('reflects a review posted through the monolith API', async () => {
    const posted = await request(monolith)
      .post('/products/13/reviews')
      .send({ ...valid, title: 'From the monolith' });
    expect(posted.status).toBe(201);
    await waitForIdentical(['/products/13/reviews', '/products/13/reviews?pageSize=1&page=2']);
    const body = JSON.parse((await get(service.app, '/products/13/reviews')).text) as {
      total: number;
    };
    expect(body.total).toBe(1);
  });

  it('reflects a renamed member in every review of theirs', async () => {
    const [review] = await monolithDb('reviews')
      .where({ product_id: 1 })
      .orderBy('id')
      .limit(1)
      .select<{ member_id: number }[]>('member_id');
    await monolithDb('members')
      .where({ id: review!.member_id })
      .update({ name: 'Renamed "Member" ✓' });
    await waitForIdentical(['/products/1/reviews?pageSize=100']);
    expect((await get(service.app, '/products/1/reviews?pageSize=100')).text).toContain(
      'Renamed \\"Member\\" ✓',
    );
  });

  /** A product with at least three reviews other than product 1. */
  let edited: number;

  it('reflects an edited, a deleted and a moved review', async () => {
    const [product] = await monolithDb('reviews')
      .whereNot({ product_id: 1 })
      .groupBy('product_id')
      .havingRaw('count(*) >= 3')
      .orderBy('product_id')
      .limit(1)
      .select<{ product_id: number }[]>('product_id');
    edited = product!.product_id;
    const [first, second, third] = await monolithDb('reviews')
      .where({ product_id: edited })
      .orderBy('id')
      .limit(3)
      .pluck<number[]>('id');
    expect(third).toBeDefined();
    await monolithDb('reviews')
      .where({ id: first })
      .update({ rating: 1, title: 'Changed my mind', body: longBody });
    await monolithDb('reviews').where({ id: second }).del();
    await monolithDb('reviews').where({ id: third }).update({ product_id: 23 });
    await waitForIdentical([
      `/products/${edited}/reviews?pageSize=100`,
      '/products/23/reviews?pageSize=100',
    ]);
  });

  it('keeps a long body when an update leaves it out (TOAST) and answers as the monolith', async () => {
    const [id] = await monolithDb('reviews')
      .where({ product_id: edited, title: 'Changed my mind' })
      .pluck<number[]>('id');
    expect(id).toBeDefined();
    await monolithDb('reviews').where({ id }).update({ rating: 2 });
    await waitForIdentical([`/products/${edited}/reviews?pageSize=100`]);
    const update = delivered
      .flat()
      .map((r) => r.value)
      .filter(isChangeEventValue)
      .findLast((v) => v.op === 'u' && v.after?.id === id);
    expect(update?.after?.body).toBe(UNAVAILABLE_VALUE);
    const local = await reviewsDb('reviews')
      .where({ id })
      .first<{ body: string; rating: number }>();
    expect({ rating: local.rating, body: local.body }).toEqual({ rating: 2, body: longBody });
  });

  it('serves a product and a member added in the monolith, and 404s a deleted product', async () => {
    const [product] = await monolithDb('products')
      .insert({
        sku: 'REV-0001',
        name: 'Trowel',
        description: 'Stainless',
        category_id: 1,
        price: '9.50',
        stock: 3,
      })
      .returning<{ id: number }[]>('id');
    const [member] = await monolithDb('members')
      .insert({ email: 'new.member@example.com', name: 'New Member' })
      .returning<{ id: number }[]>('id');
    const productPath = `/products/${product!.id}/reviews`;
    await waitForIdentical([productPath]);
    await waitUntil(async () => (await reviewsDb('members').where({ id: member!.id })).length > 0);
    // Refused the same way on both sides, then accepted by the service for the new member.
    await expectIdentical([
      { method: 'post', path: productPath, body: { ...valid, memberId: member!.id, rating: 7 } },
    ]);
    const created = await request(service.app)
      .post(productPath)
      .send({ ...valid, memberId: member!.id });
    expect(created.status).toBe(201);
    expect((created.body as ReviewJson).member).toEqual({ id: member!.id, name: 'New Member' });

    const [unreviewed] = await monolithDb('products')
      .insert({
        sku: 'REV-0002',
        name: 'Rake',
        description: 'Wide',
        category_id: 1,
        price: '19.50',
        stock: 1,
      })
      .returning<{ id: number }[]>('id');
    await waitForIdentical([`/products/${unreviewed!.id}/reviews`]);
    await monolithDb('products').where({ id: unreviewed!.id }).del();
    await waitForIdentical([`/products/${unreviewed!.id}/reviews`]);
    expect((await get(service.app, `/products/${unreviewed!.id}/reviews`)).status).toBe(404);
  });
});

describe('reviews service writing reviews', () => {
  it('answers a POST as the monolith does, with an id from its own range', async () => {
    const body = { memberId: 3, rating: 5, title: 'Brilliant ✓', body: 'Would buy "again".' };
    const mine = await request(service.app).post('/products/43/reviews').send(body);
    const theirs = await request(monolith).post('/products/43/reviews').send(body);
    expect({ status: mine.status, type: mine.headers['content-type'] }).toEqual({
      status: theirs.status,
      type: theirs.headers['content-type'],
    });
    expect(mine.status).toBe(201);
    const own = mine.body as ReviewJson;
    const legacy = theirs.body as ReviewJson;
    expect(own.id).toBeGreaterThanOrEqual(SERVICE_REVIEW_IDS.first);
    expect(legacy.id).toBeLessThan(SERVICE_REVIEW_IDS.first);
    expect(own.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    // Same bytes once the two values only the writer can choose are the same.
    expect(mine.text.replace(`"id":${own.id}`, `"id":${legacy.id}`)).toBe(
      theirs.text.replace(legacy.createdAt, own.createdAt),
    );
    // The monolith's review arrives over CDC beside the service's own one.
    await waitUntil(async () => {
      const { items: list } = JSON.parse(
        (await get(service.app, '/products/43/reviews?pageSize=100')).text,
      ) as {
        items: ReviewJson[];
      };
      return list.some((r) => r.id === legacy.id) && list.some((r) => r.id === own.id);
    });
  });

  it('hands out increasing ids from its own sequence', async () => {
    const ids: number[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await request(service.app).post('/products/53/reviews').send(valid);
      expect(res.status).toBe(201);
      ids.push((res.body as ReviewJson).id);
    }
    expect(ids[0]).toBeGreaterThanOrEqual(SERVICE_REVIEW_IDS.first);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(3);
  });

  it('applies monolith changes but drops the ones the write-back made', async () => {
    const records = delivered.flat();
    const insert = records.find(
      (r): r is ChangeRecord & { value: ChangeEventValue } =>
        r.topic.endsWith('.public.reviews') && isChangeEventValue(r.value) && r.value.op === 'c',
    );
    expect(insert).toBeDefined();
    const id = 1_999_999_999;
    const later = (
      record: ChangeRecord & { value: ChangeEventValue },
      origin?: string,
    ): ChangeRecord => ({
      ...record,
      key: { id },
      value: { ...record.value, after: { ...record.value.after, id, title: 'Echo' } },
      ...(origin === undefined ? {} : { headers: { [ORIGIN_HEADER]: origin } }),
    });
    const echoed = await service.handle([later(insert!, DEFAULT_WRITE_BACK_ORIGIN)]);
    expect(echoed).toEqual({ applied: 0, skipped: 0, echoes: 1 });
    expect(await reviewsDb('reviews').where({ id })).toEqual([]);
    const other = await service.handle([later(insert!, 'some_other_writer')]);
    expect(other).toEqual({ applied: 1, skipped: 0, echoes: 0 });
    expect(await reviewsDb('reviews').where({ id }).pluck('title')).toEqual(['Echo']);
    await reviewsDb('reviews').where({ id }).del();
  });
});
