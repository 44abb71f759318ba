import { Router } from 'express';
import type { Knex } from 'knex';
import { z } from 'zod';
import { NotFoundError } from '../errors.js';
import { assertExists, selectProducts } from '../queries.js';
import { serializeWishlistEntry, type ProductRow } from '../serializers.js';
import { bodySchema, idField, idParam, idParams, parseInput } from '../validation.js';

const wishlistBody = bodySchema({ productId: idField });
const wishlistItemParams = z.object({ id: idParam, productId: idParam });

type WishlistRow = ProductRow & { added_at: Date };

/**
 * A member's wishlist:
 * - `GET /members/:id/wishlist`: every entry, most recently added first (ties by product id
 *   descending);
 * - `POST /members/:id/wishlist` `{ productId }`: 201 with the new entry; adding a product that is
 *   already on the list is not an error but answers 200 with the existing entry (its original
 *   `addedAt`), so retries are safe;
 * - `DELETE /members/:id/wishlist/:productId`: 204, or 404 when the product is not on the list.
 */
export function createWishlistRouter(deps: { db: Knex }): Router {
  const { db } = deps;
  const router = Router();

  const selectEntries = (memberId: number): Knex.QueryBuilder =>
    selectProducts(db)
      .join('wishlist_items as w', 'w.product_id', 'p.id')
      .where('w.member_id', memberId)
      .select('w.created_at as added_at');

  router.get('/members/:id/wishlist', async (req, res) => {
    const { id } = parseInput(idParams, req.params, 'path');
    await assertExists(db, 'members', id);
    const rows = (await selectEntries(id).orderBy([
      { column: 'w.created_at', order: 'desc' },
      { column: 'w.product_id', order: 'desc' },
    ])) as WishlistRow[];
    res.json({ items: rows.map(serializeWishlistEntry) });
  });

  router.post('/members/:id/wishlist', async (req, res) => {
    const { id } = parseInput(idParams, req.params, 'path');
    const { productId } = parseInput(wishlistBody, req.body, 'body');
    await assertExists(db, 'members', id);
    await assertExists(db, 'products', productId, 'productId');
    const inserted = await db('wishlist_items')
      .insert({ member_id: id, product_id: productId })
      .onConflict(['member_id', 'product_id'])
      .ignore()
      .returning<{ product_id: number }[]>('product_id');
    const row = await selectEntries(id)
      .where('w.product_id', productId)
      .first<WishlistRow | undefined>();
    if (!row) {
      // Only when a concurrent DELETE removed the entry in between.
      throw new NotFoundError(`product ${productId} is not on the wishlist of member ${id}`);
    }
    res.status(inserted.length > 0 ? 201 : 200).json(serializeWishlistEntry(row));
  });

  router.delete('/members/:id/wishlist/:productId', async (req, res) => {
    const { id, productId } = parseInput(wishlistItemParams, req.params, 'path');
    await assertExists(db, 'members', id);
    const deleted = await db('wishlist_items')
      .where({ member_id: id, product_id: productId })
      .del();
    if (deleted === 0) {
      throw new NotFoundError(`product ${productId} is not on the wishlist of member ${id}`);
    }
    res.status(204).end();
  });

  return router;
}
