import { Router } from 'express';
import type { Knex } from 'knex';
import { serializeCategory, type CategoryRow } from '../serializers.js';

/** `GET /categories`: every category, by id. */
export function createCategoriesRouter(deps: { db: Knex }): Router {
  const router = Router();
  router.get('/categories', async (_req, res) => {
    const rows = await deps
      .db('categories')
      .select<CategoryRow[]>('id', 'slug', 'name')
      .orderBy('id');
    res.json({ items: rows.map(serializeCategory) });
  });
  return router;
}
