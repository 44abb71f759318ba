import { Router } from 'express';
import type { Knex } from 'knex';
import { z } from 'zod';
import { ValidationError } from '../errors.js';
import { countRows, findProduct, selectProducts } from '../queries.js';
import { serializePage, serializeProduct, type ProductRow } from '../serializers.js';
import {
  describeValue,
  idParams,
  paginationQuery,
  parseInput,
  toPagination,
} from '../validation.js';

const productListQuery = paginationQuery.extend({
  category: z.string({ error: 'must be a category slug' }).optional(),
});

/**
 * `GET /products` (paginated, by id, optionally `?category=<slug>`) and `GET /products/:id`.
 * An unknown category slug is a 400 naming `category`: the slug is a filter value the client got
 * wrong, not a resource that is missing.
 */
export function createProductsRouter(deps: { db: Knex }): Router {
  const { db } = deps;
  const router = Router();

  router.get('/products', async (req, res) => {
    const query = parseInput(productListQuery, req.query, 'query');
    const pagination = toPagination(query);
    let categoryId: number | undefined;
    if (query.category !== undefined) {
      const category = await db('categories')
        .where('slug', query.category)
        .first<{ id: number } | undefined>('id');
      if (!category) {
        throw new ValidationError(
          `category must be the slug of an existing category, got ${describeValue(query.category)}`,
          { field: 'category' },
        );
      }
      categoryId = category.id;
    }
    const filter = (builder: Knex.QueryBuilder, column: string) =>
      categoryId === undefined ? builder : builder.where(column, categoryId);
    const [total, rows] = await Promise.all([
      countRows(filter(db('products'), 'category_id')),
      filter(selectProducts(db), 'p.category_id')
        .orderBy('p.id')
        .limit(pagination.pageSize)
        .offset(pagination.offset) as Promise<ProductRow[]>,
    ]);
    res.json(serializePage(rows.map(serializeProduct), pagination, total));
  });

  router.get('/products/:id', async (req, res) => {
    const { id } = parseInput(idParams, req.params, 'path');
    res.json(serializeProduct(await findProduct(db, id)));
  });

  return router;
}
