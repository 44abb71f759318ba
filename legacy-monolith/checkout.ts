import type { Knex } from 'knex';
import {
  InsufficientBalanceError,
  NotFoundError,
  OutOfStockError,
  ValidationError,
} from './errors.js';
import { formatCents, toCents } from './money.js';

/** What `POST /orders` asks for, after validation. */
export interface OrderRequest {
  readonly memberId: number;
  readonly items: readonly { readonly productId: number; readonly quantity: number }[];
}

/** Largest amount a `numeric(12,2)` column (balances, totals) can hold, in cents. */
const MAX_AMOUNT_CENTS = 999_999_999_999;

/**
 * Places and pays an order in ONE transaction and returns its id:
 *
 *   lock products (FOR NO KEY UPDATE, ascending id) → check stock → decrement stock
 *   → insert order 'placed' + items at current prices → debit balance (conditional UPDATE)
 *   → insert payment 'captured' → update order to 'paid'
 *
 * CDC consumers therefore see the order inserted as `placed` and updated to `paid` within one
 * transaction. Locking the products in ascending id order means two orders never wait on each
 * other in a cycle; `NO KEY UPDATE` leaves foreign-key checks (reviews, wishlists) unblocked.
 * Every failure rolls the whole transaction back, so a refused order leaves no trace.
 *
 * Checks run in this order: a product listed twice (400, field `items[j].productId` of the repeat;
 * quantities are not merged), unknown member (404, field `memberId`), unknown product (404,
 * `items[i].productId`), short stock (409 `OUT_OF_STOCK`, `items[i].quantity`, first short item in
 * request order), short balance (409 `INSUFFICIENT_BALANCE`).
 */
export async function placeOrder(db: Knex, request: OrderRequest): Promise<number> {
  rejectDuplicateProducts(request);
  return db.transaction(async (trx) => {
    const member = await trx('members')
      .where('id', request.memberId)
      .first<{ balance: string } | undefined>('balance');
    if (!member) {
      throw new NotFoundError(`member ${request.memberId} not found`, { field: 'memberId' });
    }

    const productIds = request.items.map((item) => item.productId).sort((a, b) => a - b);
    const locked = await trx('products')
      .whereIn('id', productIds)
      .orderBy('id')
      .forNoKeyUpdate()
      .select<{ id: number; price: string; stock: number }[]>('id', 'price', 'stock');
    const products = new Map(locked.map((product) => [product.id, product]));

    const lines = request.items.map((item, index) => {
      const product = products.get(item.productId);
      if (!product) {
        throw new NotFoundError(`product ${item.productId} not found`, {
          field: `items[${index}].productId`,
        });
      }
      return { ...item, index, product };
    });
    for (const line of lines) {
      if (line.product.stock < line.quantity) {
        throw new OutOfStockError({
          productId: line.productId,
          requested: line.quantity,
          available: line.product.stock,
          field: `items[${line.index}].quantity`,
        });
      }
    }

    const totalCents = lines.reduce(
      (sum, line) => sum + toCents(line.product.price) * line.quantity,
      0,
    );
    const total = formatCents(totalCents);
    if (totalCents > toCents(member.balance) || totalCents > MAX_AMOUNT_CENTS) {
      throw new InsufficientBalanceError({
        memberId: request.memberId,
        required: total,
        available: member.balance,
      });
    }

    for (const line of [...lines].sort((a, b) => a.productId - b.productId)) {
      await trx('products')
        .where('id', line.productId)
        .update({ stock: trx.raw('stock - ?', [line.quantity]), updated_at: trx.fn.now(3) });
    }

    const [order] = await trx('orders')
      .insert({ member_id: request.memberId, status: 'placed', total })
      .returning<{ id: number }[]>('id');
    if (!order) throw new Error('insert into orders returned no row');
    await trx('order_items').insert(
      lines.map((line) => ({
        order_id: order.id,
        product_id: line.productId,
        quantity: line.quantity,
        unit_price: line.product.price,
      })),
    );

    const debited = await trx('members')
      .where('id', request.memberId)
      .andWhere('balance', '>=', total)
      .update({ balance: trx.raw('balance - ?::numeric', [total]), updated_at: trx.fn.now(3) })
      .returning<{ id: number }[]>('id');
    if (debited.length === 0) {
      const current = await trx('members')
        .where('id', request.memberId)
        .first<{ balance: string }>('balance');
      throw new InsufficientBalanceError({
        memberId: request.memberId,
        required: total,
        available: current.balance,
      });
    }

    await trx('payments').insert({
      order_id: order.id,
      member_id: request.memberId,
      amount: total,
      method: 'balance',
      status: 'captured',
    });
    await trx('orders')
      .where('id', order.id)
      .update({ status: 'paid', updated_at: trx.fn.now(3) });
    return order.id;
  });
}

/** An order lists each product once; the second mention of a product is refused, naming it. */
function rejectDuplicateProducts(request: OrderRequest): void {
  const firstIndex = new Map<number, number>();
  request.items.forEach((item, index) => {
    const first = firstIndex.get(item.productId);
    if (first !== undefined) {
      throw new ValidationError(
        `items[${index}].productId repeats product ${item.productId} from items[${first}]; ` +
          `list each product once with its total quantity`,
        { field: `items[${index}].productId` },
      );
    }
    firstIndex.set(item.productId, index);
  });
}
