import type { Knex } from 'knex';
import { NotFoundError } from './errors.js';
import {
  serializeOrder,
  type OrderItemRow,
  type OrderJson,
  type OrderRow,
  type PaymentRow,
  type ProductRow,
} from './serializers.js';

/**
 * Products with their category and rating summary, as {@link ProductRow}s. The rating is computed
 * per product from `reviews` (a lateral aggregate, so it uses the `reviews(product_id, …)` index);
 * callers add filters, ordering and limits.
 */
export function selectProducts(db: Knex | Knex.Transaction): Knex.QueryBuilder {
  return db('products as p')
    .join('categories as c', 'c.id', 'p.category_id')
    .joinRaw(
      'cross join lateral (select round(avg(r.rating), 2) as average, count(*)::int as count ' +
        'from reviews r where r.product_id = p.id) as rating',
    )
    .select(
      'p.id',
      'p.sku',
      'p.name',
      'p.description',
      'p.price',
      'p.stock',
      'p.created_at',
      'p.updated_at',
      'c.id as category_id',
      'c.slug as category_slug',
      'c.name as category_name',
      'rating.average as rating_average',
      'rating.count as rating_count',
    );
}

/** The product with `id`, or a {@link NotFoundError} (with `field` when the id came from a body). */
export async function findProduct(
  db: Knex | Knex.Transaction,
  id: number,
  field?: string,
): Promise<ProductRow> {
  const row = await selectProducts(db).where('p.id', id).first<ProductRow | undefined>();
  if (!row)
    throw new NotFoundError(`product ${id} not found`, field === undefined ? {} : { field });
  return row;
}

/** Throws a {@link NotFoundError} unless a row with `id` exists in `table`. */
export async function assertExists(
  db: Knex | Knex.Transaction,
  table: 'products' | 'members' | 'orders',
  id: number,
  field?: string,
): Promise<void> {
  const row = await db(table).where('id', id).first<{ id: number } | undefined>('id');
  if (!row) {
    const noun = table.slice(0, -1);
    throw new NotFoundError(`${noun} ${id} not found`, field === undefined ? {} : { field });
  }
}

/** Loads orders with their items and payments, returned in the order of `ids` (unknown ids skipped). */
export async function loadOrders(
  db: Knex | Knex.Transaction,
  ids: readonly number[],
): Promise<OrderJson[]> {
  if (ids.length === 0) return [];
  const [orders, items, payments] = await Promise.all([
    db('orders')
      .whereIn('id', ids)
      .select<OrderRow[]>('id', 'member_id', 'status', 'total', 'created_at', 'updated_at'),
    db('order_items as oi')
      .join('products as p', 'p.id', 'oi.product_id')
      .whereIn('oi.order_id', ids)
      .orderBy([
        { column: 'oi.order_id', order: 'asc' },
        { column: 'oi.id', order: 'asc' },
      ])
      .select<OrderItemRow[]>(
        'oi.order_id',
        'oi.product_id',
        'p.name',
        'oi.quantity',
        'oi.unit_price',
        db.raw('(oi.quantity * oi.unit_price)::numeric(12,2) as line_total'),
      ),
    db('payments')
      .whereIn('order_id', ids)
      .select<PaymentRow[]>('id', 'order_id', 'amount', 'method', 'status', 'created_at'),
  ]);
  const itemsByOrder = new Map<number, OrderItemRow[]>();
  for (const item of items) {
    const list = itemsByOrder.get(item.order_id);
    if (list) list.push(item);
    else itemsByOrder.set(item.order_id, [item]);
  }
  const paymentByOrder = new Map(payments.map((payment) => [payment.order_id, payment]));
  const orderById = new Map(orders.map((order) => [order.id, order]));
  return ids.flatMap((id) => {
    const order = orderById.get(id);
    return order ? [serializeOrder(order, itemsByOrder.get(id) ?? [], paymentByOrder.get(id))] : [];
  });
}

/** The order with `id` as JSON, or a {@link NotFoundError}. */
export async function loadOrder(db: Knex | Knex.Transaction, id: number): Promise<OrderJson> {
  const [order] = await loadOrders(db, [id]);
  if (!order) throw new NotFoundError(`order ${id} not found`);
  return order;
}

/** `count(*)` of the rows `query` (a plain filtered table query, without a select) matches. */
export async function countRows(query: Knex.QueryBuilder): Promise<number> {
  const row = await query.count({ total: '*' }).first<{ total: number } | undefined>();
  return row?.total ?? 0;
}
