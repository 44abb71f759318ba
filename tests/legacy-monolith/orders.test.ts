import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OrderJson, PageJson } from '../../legacy-monolith/index.js';
import {
  cents,
  createSeededMonolith,
  money,
  newestFirst,
  seed,
  seededOrder,
  seededProduct,
  type SeededMonolith,
} from './harness.js';

let monolith: SeededMonolith;

beforeAll(async () => {
  monolith = await createSeededMonolith('legacy_orders');
});

afterAll(async () => {
  await monolith.close();
});

interface ErrorJson {
  error: { code: string; message: string; field?: string };
}

/** The seeded order as the API must render it. */
function expectedOrder(id: number): OrderJson {
  const order = seededOrder(id);
  const payment = seed.payments.find((p) => p.order_id === id);
  return {
    id,
    memberId: order.member_id,
    status: order.status as OrderJson['status'],
    total: order.total,
    items: seed.orderItems
      .filter((item) => item.order_id === id)
      .map((item) => ({
        productId: item.product_id,
        name: seededProduct(item.product_id).name,
        quantity: item.quantity,
        unitPrice: item.unit_price,
        lineTotal: money(cents(item.unit_price) * item.quantity),
      })),
    payment: payment
      ? {
          id: payment.id,
          amount: payment.amount,
          method: 'balance',
          status: 'captured',
          createdAt: payment.created_at,
        }
      : null,
    createdAt: order.created_at,
    updatedAt: order.updated_at,
  };
}

/** Everything a refused order must leave untouched. */
async function snapshot(memberId: number, productIds: number[]) {
  const { db } = monolith;
  const count = async (table: string) => Number((await db(table).count({ n: '*' }))[0]?.n);
  return {
    stock: (await db('products')
      .whereIn('id', productIds)
      .orderBy('id')
      .select('id', 'stock', 'updated_at')) as unknown[],
    member: (await db('members').where('id', memberId).first('balance', 'updated_at')) as unknown,
    orders: await count('orders'),
    orderItems: await count('order_items'),
    payments: await count('payments'),
  };
}

describe('POST /orders', () => {
  it('places and pays an order: stock down, balance down, payment captured, status paid', async () => {
    const { db } = monolith;
    const memberId = 2;
    const lines = [
      { productId: 10, quantity: 2 },
      { productId: 4, quantity: 1 },
    ];
    const before = await snapshot(memberId, [4, 10]);
    const balanceBefore = await db('members')
      .where('id', memberId)
      .first<{ balance: string }>('balance');
    const total = lines.reduce(
      (sum, l) => sum + cents(seededProduct(l.productId).price) * l.quantity,
      0,
    );
    expect(total).toBeLessThanOrEqual(cents(balanceBefore.balance));

    const res = await request(monolith.app).post('/orders').send({ memberId, items: lines });
    expect(res.status).toBe(201);
    const order = res.body as OrderJson;
    expect(res.headers.location).toBe(`/orders/${order.id}`);
    expect(order).toEqual({
      id: seed.orders.length + 1,
      memberId,
      status: 'paid',
      total: money(total),
      items: lines.map((l) => ({
        productId: l.productId,
        name: seededProduct(l.productId).name,
        quantity: l.quantity,
        unitPrice: seededProduct(l.productId).price,
        lineTotal: money(cents(seededProduct(l.productId).price) * l.quantity),
      })),
      payment: {
        id: seed.payments.length + 1,
        amount: money(total),
        method: 'balance',
        status: 'captured',
        createdAt: order.createdAt,
      },
      createdAt: order.createdAt,
      updatedAt: order.createdAt,
    });
    expect(Object.keys(order)).toEqual([
      'id',
      'memberId',
      'status',
      'total',
      'items',
      'payment',
      'createdAt',
      'updatedAt',
    ]);

    const stock = await db('products')
      .whereIn('id', [4, 10])
      .orderBy('id')
      .select<{ id: number; stock: number }[]>('id', 'stock');
    expect(stock).toEqual([
      { id: 4, stock: seededProduct(4).stock - 1 },
      { id: 10, stock: seededProduct(10).stock - 2 },
    ]);
    const member = await db('members').where('id', memberId).first<{ balance: string }>('balance');
    expect(member.balance).toBe(money(cents(balanceBefore.balance) - total));
    const payments = await db('payments')
      .where('order_id', order.id)
      .select<unknown[]>('member_id', 'amount', 'method', 'status');
    expect(payments).toEqual([
      { member_id: memberId, amount: money(total), method: 'balance', status: 'captured' },
    ]);
    const after = await snapshot(memberId, [4, 10]);
    expect(after.orders).toBe(before.orders + 1);
    expect(after.orderItems).toBe(before.orderItems + 2);
    expect(after.payments).toBe(before.payments + 1);

    const fetched = await request(monolith.app).get(`/orders/${order.id}`);
    expect(fetched.status).toBe(200);
    expect(fetched.body).toEqual(order);
    const product = await request(monolith.app).get('/products/10');
    expect((product.body as { stock: number }).stock).toBe(seededProduct(10).stock - 2);
  });

  it('refuses short stock with 409 OUT_OF_STOCK naming the item, and writes nothing', async () => {
    const soldOut = seed.products.find((p) => p.stock === 0);
    if (!soldOut) throw new Error('the seed has a sold-out product');
    const before = await snapshot(2, [5, soldOut.id]);
    const res = await request(monolith.app)
      .post('/orders')
      .send({
        memberId: 2,
        items: [
          { productId: 5, quantity: 1 },
          { productId: soldOut.id, quantity: 1 },
        ],
      });
    expect(res.status).toBe(409);
    expect(res.body).toEqual({
      error: {
        code: 'OUT_OF_STOCK',
        message: `product ${soldOut.id} has 0 in stock, 1 requested`,
        field: 'items[1].quantity',
      },
    });
    expect(await snapshot(2, [5, soldOut.id])).toEqual(before);
  });

  it('refuses more than the stock with the available count in the message', async () => {
    const product = seededProduct(12);
    const res = await request(monolith.app)
      .post('/orders')
      .send({ memberId: 2, items: [{ productId: 12, quantity: 100 }] });
    if (product.stock >= 100) throw new Error('product 12 must have less than 100 in stock');
    expect(res.status).toBe(409);
    expect((res.body as ErrorJson).error).toEqual({
      code: 'OUT_OF_STOCK',
      message: `product 12 has ${product.stock} in stock, 100 requested`,
      field: 'items[0].quantity',
    });
  });

  it.each([
    { memberId: 13, productId: 10, balance: '0.00' },
    { memberId: 1, productId: 1, balance: '57.46' },
  ])(
    'refuses member $memberId (balance $balance) with 409 INSUFFICIENT_BALANCE and writes nothing',
    async ({ memberId, productId, balance }) => {
      const before = await snapshot(memberId, [productId]);
      const res = await request(monolith.app)
        .post('/orders')
        .send({ memberId, items: [{ productId, quantity: 1 }] });
      expect(res.status).toBe(409);
      expect(res.body).toEqual({
        error: {
          code: 'INSUFFICIENT_BALANCE',
          message: `member ${memberId} has a balance of ${balance}, the order requires ${seededProduct(productId).price}`,
        },
      });
      expect(await snapshot(memberId, [productId])).toEqual(before);
    },
  );

  it.each([
    [
      'an unknown member',
      { memberId: 999999, items: [{ productId: 1, quantity: 1 }] },
      'member 999999 not found',
      'memberId',
    ],
    [
      'an unknown product',
      {
        memberId: 2,
        items: [
          { productId: 5, quantity: 1 },
          { productId: 999999, quantity: 1 },
        ],
      },
      'product 999999 not found',
      'items[1].productId',
    ],
  ])('answers 404 for %s and writes nothing', async (_label, payload, message, field) => {
    const before = await snapshot(2, [1, 5]);
    const res = await request(monolith.app).post('/orders').send(payload);
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: { code: 'NOT_FOUND', message, field } });
    expect(await snapshot(2, [1, 5])).toEqual(before);
  });

  const item = { productId: 5, quantity: 1 };
  it.each([
    [
      'no memberId',
      { items: [item] },
      'memberId',
      'memberId is required and must be an integer from 1 to 2147483647',
    ],
    [
      'memberId 0',
      { memberId: 0, items: [item] },
      'memberId',
      'memberId must be an integer from 1 to 2147483647, got 0',
    ],
    [
      'no items',
      { memberId: 2 },
      'items',
      'items is required and must be an array of 1 to 50 items',
    ],
    [
      'empty items',
      { memberId: 2, items: [] },
      'items',
      'items must be an array of 1 to 50 items, got an empty array',
    ],
    [
      '51 items',
      {
        memberId: 2,
        items: Array.from({ length: 51 }, (_, i) => ({ productId: i + 1, quantity: 1 })),
      },
      'items',
      'items must be an array of 1 to 50 items, got an array of 51 items',
    ],
    [
      'items as an object',
      { memberId: 2, items: item },
      'items',
      'items must be an array of 1 to 50 items, got an object',
    ],
    [
      'an item that is a number',
      { memberId: 2, items: [5] },
      'items[0]',
      'items[0] must be an object with productId and quantity, got 5',
    ],
    [
      'quantity 0',
      { memberId: 2, items: [{ productId: 5, quantity: 0 }] },
      'items[0].quantity',
      'items[0].quantity must be an integer from 1 to 100, got 0',
    ],
    [
      'quantity 101',
      { memberId: 2, items: [item, { productId: 6, quantity: 101 }] },
      'items[1].quantity',
      'items[1].quantity must be an integer from 1 to 100, got 101',
    ],
    [
      'quantity 1.5',
      { memberId: 2, items: [{ productId: 5, quantity: 1.5 }] },
      'items[0].quantity',
      'items[0].quantity must be an integer from 1 to 100, got 1.5',
    ],
    [
      'productId "5"',
      { memberId: 2, items: [{ productId: '5', quantity: 1 }] },
      'items[0].productId',
      'items[0].productId must be an integer from 1 to 2147483647, got "5"',
    ],
    [
      'a repeated product',
      { memberId: 2, items: [item, { productId: 6, quantity: 1 }, { productId: 5, quantity: 2 }] },
      'items[2].productId',
      'items[2].productId repeats product 5 from items[0]; list each product once with its total quantity',
    ],
  ])('refuses %s with a 400 naming the field', async (_label, payload, field, message) => {
    const res = await request(monolith.app).post('/orders').send(payload);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: { code: 'VALIDATION_FAILED', message, field } });
  });
});

describe('GET /orders/:id', () => {
  it('renders a seeded paid order with items and payment', async () => {
    const res = await request(monolith.app).get('/orders/1');
    expect(res.status).toBe(200);
    expect(res.body).toEqual(expectedOrder(1));
    expect((res.body as OrderJson).payment).not.toBeNull();
  });

  it('renders a cancelled order with a null payment', async () => {
    const cancelled = seed.orders.find((o) => o.status === 'cancelled');
    if (!cancelled) throw new Error('the seed has cancelled orders');
    const res = await request(monolith.app).get(`/orders/${cancelled.id}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual(expectedOrder(cancelled.id));
    expect((res.body as OrderJson).payment).toBeNull();
  });

  it('keeps every seeded order total equal to the sum of its lines', async () => {
    for (const id of [1, 2, 3, 100, 250]) {
      const order = (await request(monolith.app).get(`/orders/${id}`)).body as OrderJson;
      const sum = order.items.reduce((s, i) => s + cents(i.lineTotal), 0);
      expect(money(sum)).toBe(order.total);
    }
  });

  it('answers 404 for an unknown order and 400 for a bad id', async () => {
    const missing = await request(monolith.app).get('/orders/999999');
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({
      error: { code: 'NOT_FOUND', message: 'order 999999 not found' },
    });
    const bad = await request(monolith.app).get('/orders/1.0');
    expect(bad.status).toBe(400);
    expect((bad.body as ErrorJson).error.field).toBe('id');
  });
});

describe('GET /members/:id/orders', () => {
  const memberId = 9;
  const history = newestFirst(
    seed.orders.filter((o) => o.member_id === memberId),
    (o) => o.id,
  );

  it('lists the order history newest first, paginated', async () => {
    expect(history.length).toBeGreaterThan(3);
    const first = await request(monolith.app).get(`/members/${memberId}/orders?pageSize=3`);
    expect(first.status).toBe(200);
    expect(first.body).toEqual({
      items: history.slice(0, 3).map((o) => expectedOrder(o.id)),
      page: 1,
      pageSize: 3,
      total: history.length,
    });
    const second = await request(monolith.app).get(`/members/${memberId}/orders?pageSize=3&page=2`);
    expect((second.body as PageJson<OrderJson>).items.map((o) => o.id)).toEqual(
      history.slice(3, 6).map((o) => o.id),
    );
  });

  it('puts a new order first', async () => {
    const placed = await request(monolith.app)
      .post('/orders')
      .send({ memberId, items: [{ productId: 20, quantity: 1 }] });
    expect(placed.status).toBe(201);
    const res = await request(monolith.app).get(`/members/${memberId}/orders`);
    const page = res.body as PageJson<OrderJson>;
    expect(page.total).toBe(history.length + 1);
    expect(page.items[0]).toEqual(placed.body);
  });

  it('answers 404 for an unknown member and 400 for a bad page', async () => {
    const missing = await request(monolith.app).get('/members/999999/orders');
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({
      error: { code: 'NOT_FOUND', message: 'member 999999 not found' },
    });
    const bad = await request(monolith.app).get(`/members/${memberId}/orders?page=zero`);
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({
      error: {
        code: 'VALIDATION_FAILED',
        message: 'page must be an integer from 1 to 2147483647, got "zero"',
        field: 'page',
      },
    });
  });
});
