import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WishlistEntryJson } from '../../legacy-monolith/index.js';
import {
  createSeededMonolith,
  expectedProduct,
  newestFirst,
  seed,
  seededMember,
  type SeededMonolith,
} from './harness.js';

let monolith: SeededMonolith;

beforeAll(async () => {
  monolith = await createSeededMonolith('legacy_members');
});

afterAll(async () => {
  await monolith.close();
});

type Entries = { items: WishlistEntryJson[] };

const seededWishlist = (memberId: number) =>
  newestFirst(
    seed.wishlistItems.filter((w) => w.member_id === memberId),
    (w) => w.product_id,
  );

/** A member with a few seeded wishlist entries, and a product not on their list. */
const memberId =
  seed.members.find((m) => seededWishlist(m.id).length >= 3)?.id ??
  (() => {
    throw new Error('the seed has a member with three wishlist entries');
  })();
const notWished =
  seed.products.find((p) => !seededWishlist(memberId).some((w) => w.product_id === p.id))?.id ?? 0;

describe('GET /members/:id', () => {
  it('renders the member byte for byte', async () => {
    const member = seededMember(1);
    const res = await request(monolith.app).get('/members/1');
    expect(res.status).toBe(200);
    expect(res.text).toBe(
      `{"id":1,"email":"${member.email}","name":"${member.name}","balance":"${member.balance}",` +
        `"createdAt":"${member.created_at}"}`,
    );
    expect(res.body).toEqual({
      id: 1,
      email: 'ada.andersen.1@example.com',
      name: 'Ada Andersen',
      balance: '57.46',
      createdAt: '2025-01-01T00:35:00.000Z',
    });
  });

  it('shows a zero balance as "0.00"', async () => {
    const res = await request(monolith.app).get('/members/13');
    expect((res.body as { balance: string }).balance).toBe('0.00');
  });

  it('answers 404 for an unknown member and 400 for a bad id', async () => {
    const missing = await request(monolith.app).get('/members/999999');
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({
      error: { code: 'NOT_FOUND', message: 'member 999999 not found' },
    });
    const bad = await request(monolith.app).get('/members/me');
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({
      error: {
        code: 'VALIDATION_FAILED',
        message: 'id must be an integer from 1 to 2147483647, got "me"',
        field: 'id',
      },
    });
  });
});

describe('wishlist', () => {
  it('lists entries most recently added first, each with the full product', async () => {
    const res = await request(monolith.app).get(`/members/${memberId}/wishlist`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      items: seededWishlist(memberId).map((w) => ({
        product: expectedProduct(w.product_id),
        addedAt: w.created_at,
      })),
    });
  });

  it('adds a product (201), then answers 200 with the same entry when it is added again', async () => {
    const first = await request(monolith.app)
      .post(`/members/${memberId}/wishlist`)
      .send({ productId: notWished });
    expect(first.status).toBe(201);
    const entry = first.body as WishlistEntryJson;
    expect(entry.product).toEqual(expectedProduct(notWished));
    expect(Object.keys(entry)).toEqual(['product', 'addedAt']);

    const again = await request(monolith.app)
      .post(`/members/${memberId}/wishlist`)
      .send({ productId: notWished });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(entry);

    const rows = await monolith.db('wishlist_items').where({
      member_id: memberId,
      product_id: notWished,
    });
    expect(rows).toHaveLength(1);
    const list = await request(monolith.app).get(`/members/${memberId}/wishlist`);
    const items = (list.body as Entries).items;
    expect(items[0]).toEqual(entry);
    expect(items).toHaveLength(seededWishlist(memberId).length + 1);
  });

  it('removes a product (204), then answers 404 for removing it again', async () => {
    const [oldest] = seededWishlist(memberId).slice(-1);
    if (!oldest) throw new Error('member has entries');
    const removed = await request(monolith.app).delete(
      `/members/${memberId}/wishlist/${oldest.product_id}`,
    );
    expect(removed.status).toBe(204);
    expect(removed.text).toBe('');
    const list = await request(monolith.app).get(`/members/${memberId}/wishlist`);
    expect((list.body as Entries).items.map((e) => e.product.id)).not.toContain(oldest.product_id);

    const again = await request(monolith.app).delete(
      `/members/${memberId}/wishlist/${oldest.product_id}`,
    );
    expect(again.status).toBe(404);
    expect(again.body).toEqual({
      error: {
        code: 'NOT_FOUND',
        message: `product ${oldest.product_id} is not on the wishlist of member ${memberId}`,
      },
    });
  });

  it.each([
    ['GET', '/members/999999/wishlist', undefined, 'member 999999 not found', undefined],
    ['POST', '/members/999999/wishlist', { productId: 1 }, 'member 999999 not found', undefined],
    ['POST', '/members/1/wishlist', { productId: 999999 }, 'product 999999 not found', 'productId'],
    ['DELETE', '/members/999999/wishlist/1', undefined, 'member 999999 not found', undefined],
  ] as const)('%s %s answers 404', async (method, path, body, message, field) => {
    const agent = request(monolith.app);
    const res = await (method === 'GET'
      ? agent.get(path)
      : method === 'DELETE'
        ? agent.delete(path)
        : agent.post(path).send(body));
    expect(res.status).toBe(404);
    expect(res.body).toEqual({
      error: { code: 'NOT_FOUND', message, ...(field ? { field } : {}) },
    });
  });

  it.each([
    [
      'POST',
      '/members/1/wishlist',
      { productId: 'one' },
      'productId',
      'productId must be an integer from 1 to 2147483647, got "one"',
    ],
    [
      'POST',
      '/members/1/wishlist',
      {},
      'productId',
      'productId is required and must be an integer from 1 to 2147483647',
    ],
    [
      'POST',
      '/members/x/wishlist',
      { productId: 1 },
      'id',
      'id must be an integer from 1 to 2147483647, got "x"',
    ],
    [
      'DELETE',
      '/members/1/wishlist/abc',
      undefined,
      'productId',
      'productId must be an integer from 1 to 2147483647, got "abc"',
    ],
    [
      'GET',
      '/members/0/wishlist',
      undefined,
      'id',
      'id must be an integer from 1 to 2147483647, got "0"',
    ],
  ] as const)('%s %s with %j answers 400 naming %s', async (method, path, body, field, message) => {
    const agent = request(monolith.app);
    const res = await (method === 'GET'
      ? agent.get(path)
      : method === 'DELETE'
        ? agent.delete(path)
        : agent.post(path).send(body));
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: { code: 'VALIDATION_FAILED', message, field } });
  });
});
