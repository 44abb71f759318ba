import { Router } from 'express';
import type { Knex } from 'knex';
import { NotFoundError, ValidationError } from './errors.js';
import {
  describeValue,
  idParams,
  parseInput,
  productListQuery,
  toPagination,
} from './validation.js';

/** A row of {@link selectProducts}. */
interface ProductRow {
  id: number;
  sku: string;
  name: string;
  description: string;
  price: string;
  stock: number;
  created_at: Date;
  updated_at: Date;
  category_id: number;
  category_slug: string;
  category_name: string;
  rating_average: string | null;
  rating_count: number;
}

/** A product as the monolith renders it (keys in this order). */
export interface ProductJson {
  id: number;
  sku: string;
  name: string;
  description: string;
  category: { id: number; slug: string; name: string };
  price: string;
  stock: number;
  rating: { average: string | null; count: number };
  createdAt: string;
  updatedAt: string;
}

/**
 * Products with category and rating summary. The summary is the monolith's own SQL
 * (`round(avg(rating), 2)`, `count(*)`) over the carried review rows, so Postgres renders the same
 * decimal string. Counts are cast to `int` so they arrive as numbers whatever the pool's parsers.
 */
function selectProducts(db: Knex): Knex.QueryBuilder {
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

function serializeProduct(row: ProductRow): ProductJson {
  return {
    id: row.id,
    sku: row.sku,
    name: row.name,
    description: row.description,
    category: { id: row.category_id, slug: row.category_slug, name: row.category_name },
    price: row.price,
    stock: row.stock,
    rating: { average: row.rating_average, count: row.rating_count },
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

/**
 * `GET /products` (by id, `?page&pageSize&category=<slug>`) and `GET /products/:id`, answered
 * from the carried tables with the monolith's shapes, validation and errors.
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
        .orderBy('id')
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
    const [counted, rows] = await Promise.all([
      filter(db('products'), 'category_id')
        .select(db.raw('count(*)::int as total'))
        .first<{ total: number } | undefined>(),
      filter(selectProducts(db), 'p.category_id')
        .orderBy('p.id')
        .limit(pagination.pageSize)
        .offset(pagination.offset) as Promise<ProductRow[]>,
    ]);
    res.json({
      items: rows.map(serializeProduct),
      page: pagination.page,
      pageSize: pagination.pageSize,
      total: counted?.total ?? 0,
    });
  });

  router.get('/products/:id', async (req, res) => {
    const { id } = parseInput(idParams, req.params, 'path');
    const row = await selectProducts(db).where('p.id', id).first<ProductRow | undefined>();
    if (!row) throw new NotFoundError(`product ${id} not found`);
    res.json(serializeProduct(row));
  });

  return router;
}
