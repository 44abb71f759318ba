import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PageJson, ProductJson, ReviewJson } from '../../legacy-monolith/index.js';
import {
  createSeededMonolith,
  expectedRating,
  expectedReview,
  newestFirst,
  seed,
  seededMember,
  type SeededMonolith,
} from './harness.js';

let monolith: SeededMonolith;

beforeAll(async () => {
  monolith = await createSeededMonolith('legacy_reviews');
});

afterAll(async () => {
  await monolith.close();
});

const reviewsOf = (productId: number) =>
  newestFirst(
    seed.reviews.filter((r) => r.product_id === productId),
    (r) => r.id,
  );

/** The seeded product with the most reviews: enough to paginate. */
const busiest = (() => {
  const counts = new Map<number, number>();
  for (const r of seed.reviews) counts.set(r.product_id, (counts.get(r.product_id) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0]?.[0] ?? 1;
})();

describe('GET /products/:id/reviews', () => {
  it('lists every review of a product newest first with the member name', async () => {
    const expected = reviewsOf(busiest);
    expect(expected.length).toBeGreaterThanOrEqual(5);
    const res = await request(monolith.app).get(`/products/${busiest}/reviews?pageSize=100`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      items: expected.map(expectedReview),
      page: 1,
      pageSize: 100,
      total: expected.length,
    });
  });

  it('renders a review with keys in the documented order', async () => {
    const res = await request(monolith.app).get('/products/1/reviews?pageSize=1');
    const [newest] = reviewsOf(1);
    if (!newest) throw new Error('product 1 has seeded reviews');
    const member = seededMember(newest.member_id);
    expect(res.text).toBe(
      `{"items":[{"id":${newest.id},"productId":1,"member":{"id":${member.id},"name":"${member.name}"},` +
        `"rating":${newest.rating},"title":"${newest.title}","body":"${newest.body}",` +
        `"createdAt":"${newest.created_at}"}],"page":1,"pageSize":1,"total":${reviewsOf(1).length}}`,
    );
  });

  it('paginates', async () => {
    const expected = reviewsOf(busiest).map(expectedReview);
    const res = await request(monolith.app).get(`/products/${busiest}/reviews?page=2&pageSize=2`);
    expect(res.status).toBe(200);
    const body = res.body as PageJson<ReviewJson>;
    expect(body.items).toEqual(expected.slice(2, 4));
    expect(body).toMatchObject({ page: 2, pageSize: 2, total: expected.length });
  });

  it('answers an empty page for a product without reviews', async () => {
    const res = await request(monolith.app).get('/products/3/reviews');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ items: [], page: 1, pageSize: 20, total: 0 });
  });

  it('answers 404 for an unknown product and 400 for a bad id or page size', async () => {
    const missing = await request(monolith.app).get('/products/999999/reviews');
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({
      error: { code: 'NOT_FOUND', message: 'product 999999 not found' },
    });
    const badId = await request(monolith.app).get('/products/x/reviews');
    expect(badId.status).toBe(400);
    expect((badId.body as { error: { field: string } }).error.field).toBe('id');
    const badSize = await request(monolith.app).get('/products/1/reviews?pageSize=101');
    expect(badSize.status).toBe(400);
    expect((badSize.body as { error: { field: string } }).error.field).toBe('pageSize');
  });
});

describe('POST /products/:id/reviews', () => {
  it('creates a review (201), lists it first and updates the rating summary', async () => {
    const productId = 3;
    const before = Date.now();
    const res = await request(monolith.app).post(`/products/${productId}/reviews`).send({
      memberId: 7,
      rating: 4,
      title: 'Sturdy and handsome',
      body: 'Survived a camping trip.',
    });
    expect(res.status).toBe(201);
    const review = res.body as ReviewJson;
    expect(review).toEqual({
      id: seed.reviews.length + 1,
      productId,
      member: { id: 7, name: seededMember(7).name },
      rating: 4,
      title: 'Sturdy and handsome',
      body: 'Survived a camping trip.',
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/) as unknown,
    });
    expect(Date.parse(review.createdAt)).toBeGreaterThanOrEqual(before - 1000);

    const list = await request(monolith.app).get(`/products/${productId}/reviews`);
    expect((list.body as PageJson<ReviewJson>).items[0]).toEqual(review);

    const product = await request(monolith.app).get(`/products/${productId}`);
    expect((product.body as ProductJson).rating).toEqual({ average: '4.00', count: 1 });
  });

  it('recomputes the average with half-up rounding to two places', async () => {
    const productId = 1;
    const added = { product_id: productId, rating: 2 };
    const res = await request(monolith.app)
      .post(`/products/${productId}/reviews`)
      .send({ memberId: 2, rating: added.rating, title: 'Fine', body: 'Fine.' });
    expect(res.status).toBe(201);
    const product = await request(monolith.app).get(`/products/${productId}`);
    expect((product.body as ProductJson).rating).toEqual(
      expectedRating(productId, [...seed.reviews, added]),
    );
  });

  it('answers 404 for an unknown product or member and writes nothing', async () => {
    const count = async () => Number((await monolith.db('reviews').count({ n: '*' }))[0]?.n);
    const before = await count();
    const product = await request(monolith.app)
      .post('/products/999999/reviews')
      .send({ memberId: 1, rating: 5, title: 't', body: 'b' });
    expect(product.status).toBe(404);
    expect(product.body).toEqual({
      error: { code: 'NOT_FOUND', message: 'product 999999 not found' },
    });
    const member = await request(monolith.app)
      .post('/products/1/reviews')
      .send({ memberId: 424242, rating: 5, title: 't', body: 'b' });
    expect(member.status).toBe(404);
    expect(member.body).toEqual({
      error: { code: 'NOT_FOUND', message: 'member 424242 not found', field: 'memberId' },
    });
    expect(await count()).toBe(before);
  });

  const valid = { memberId: 1, rating: 5, title: 'Great', body: 'Really great.' };
  it.each([
    [
      'a missing memberId',
      { ...valid, memberId: undefined },
      'memberId',
      'memberId is required and must be an integer from 1 to 2147483647',
    ],
    [
      'a string memberId',
      { ...valid, memberId: '1' },
      'memberId',
      'memberId must be an integer from 1 to 2147483647, got "1"',
    ],
    ['rating 0', { ...valid, rating: 0 }, 'rating', 'rating must be an integer from 1 to 5, got 0'],
    ['rating 6', { ...valid, rating: 6 }, 'rating', 'rating must be an integer from 1 to 5, got 6'],
    [
      'rating 4.5',
      { ...valid, rating: 4.5 },
      'rating',
      'rating must be an integer from 1 to 5, got 4.5',
    ],
    [
      'rating "5"',
      { ...valid, rating: '5' },
      'rating',
      'rating must be an integer from 1 to 5, got "5"',
    ],
    [
      'rating null',
      { ...valid, rating: null },
      'rating',
      'rating must be an integer from 1 to 5, got null',
    ],
    [
      'an empty title',
      { ...valid, title: '' },
      'title',
      'title must be a string of 1 to 200 characters, got ""',
    ],
    [
      'a 201-character title',
      { ...valid, title: 't'.repeat(201) },
      'title',
      'title must be a string of 1 to 200 characters, got a string of 201 characters',
    ],
    [
      'an array title',
      { ...valid, title: ['a'] },
      'title',
      'title must be a string of 1 to 200 characters, got ["a"]',
    ],
    [
      'a missing body',
      { ...valid, body: undefined },
      'body',
      'body is required and must be a string of 1 to 5000 characters',
    ],
    [
      'a 5001-character body',
      { ...valid, body: 'b'.repeat(5001) },
      'body',
      'body must be a string of 1 to 5000 characters, got a string of 5001 characters',
    ],
    [
      'a body with NUL',
      { ...valid, body: 'nul \u0000 byte' },
      'body',
      'body must not contain NUL characters, got "nul \\u0000 byte"',
    ],
  ])('refuses %s with a 400 naming the field', async (_label, payload, field, message) => {
    const res = await request(monolith.app).post('/products/1/reviews').send(payload);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: { code: 'VALIDATION_FAILED', message, field } });
  });

  it('counts characters, not UTF-16 units: 200 emoji make a valid title', async () => {
    const res = await request(monolith.app)
      .post('/products/2/reviews')
      .send({ ...valid, title: '🌿'.repeat(200) });
    expect(res.status).toBe(201);
    expect((res.body as ReviewJson).title).toBe('🌿'.repeat(200));
  });
});
