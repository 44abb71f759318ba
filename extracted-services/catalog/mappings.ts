import type { TableMapping } from '../../index.js';

/**
 * The monolith tables the catalog carries (source `public.*`, same names locally). Values arrive
 * in the shapes the local columns take as they are: `numeric` as a decimal string and
 * `timestamptz` as an ISO string with microseconds (cdc/README.md, "Types"), so no converters.
 *
 * Reviews are carried as rows (`id`, `product_id`, `rating`) rather than as a per-product
 * aggregate: the helper applies each row idempotently by its key, so updates (a rating changed,
 * a review moved to another product), deletes and replays all end in the right rows, and the
 * summary is computed at read time with the monolith's own SQL.
 */
export const CATALOG_MAPPINGS: readonly TableMapping[] = Object.freeze([
  {
    source: 'public.categories',
    table: 'categories',
    key: ['id'],
    columns: ['id', 'slug', 'name'],
  },
  {
    source: 'public.products',
    table: 'products',
    key: ['id'],
    columns: [
      'id',
      'sku',
      'name',
      'description',
      'category_id',
      'price',
      'stock',
      'created_at',
      'updated_at',
    ],
  },
  {
    source: 'public.reviews',
    table: 'reviews',
    key: ['id'],
    columns: ['id', 'product_id', 'rating'],
  },
]);

/** The source tables a connector feeding the catalog must include. */
export const CATALOG_SOURCE_TABLES: readonly string[] = Object.freeze(
  CATALOG_MAPPINGS.map((mapping) => mapping.source),
);
