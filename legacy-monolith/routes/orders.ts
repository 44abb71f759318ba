import { Router } from 'express';
import type { Knex } from 'knex';
import { z } from 'zod';
import { placeOrder } from '../checkout.js';
import { assertExists, countRows, loadOrder, loadOrders } from '../queries.js';
import { serializePage } from '../serializers.js';
import {
  bodySchema,
  idField,
  idParams,
  integerField,
  paginationQuery,
  parseInput,
  toPagination,
} from '../validation.js';

const orderBody = bodySchema({
  memberId: idField,
  items: z
    .array(
      z.object(
        { productId: idField, quantity: integerField(1, 100) },
        { error: 'must be an object with productId and quantity' },
      ),
      { error: 'must be an array of 1 to 50 items' },
    )
    .min(1, { error: 'must be an array of 1 to 50 items' })
    .max(50, { error: 'must be an array of 1 to 50 items' }),
});

/**
 * `POST /orders` (201 with the paid order, see {@link placeOrder}), `GET /orders/:id`, and
 * `GET /members/:id/orders` (paginated, newest first, ties by id descending).
 */
export function createOrdersRouter(deps: { db: Knex }): Router {
  const { db } = deps;
  const router = Router();

  router.post('/orders', async (req, res) => {
    const body = parseInput(orderBody, req.body, 'body');
    const id = await placeOrder(db, body);
    res
      .status(201)
      .location(`/orders/${id}`)
      .json(await loadOrder(db, id));
  });

  router.get('/orders/:id', async (req, res) => {
    const { id } = parseInput(idParams, req.params, 'path');
    res.json(await loadOrder(db, id));
  });

  router.get('/members/:id/orders', async (req, res) => {
    const { id } = parseInput(idParams, req.params, 'path');
    const pagination = toPagination(parseInput(paginationQuery, req.query, 'query'));
    await assertExists(db, 'members', id);
    const [total, rows] = await Promise.all([
      countRows(db('orders').where('member_id', id)),
      db('orders')
        .where('member_id', id)
        .orderBy([
          { column: 'created_at', order: 'desc' },
          { column: 'id', order: 'desc' },
        ])
        .limit(pagination.pageSize)
        .offset(pagination.offset)
        .select<{ id: number }[]>('id'),
    ]);
    const orders = await loadOrders(
      db,
      rows.map((row) => row.id),
    );
    res.json(serializePage(orders, pagination, total));
  });

  return router;
}
