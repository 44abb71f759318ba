import type { TableMapping } from '../../index.js';
import { WRITTEN_BY_MONOLITH } from './ownership.js';

/**
 * The monolith tables the reviews service carries, with only the columns its endpoints use:
 * product ids (to answer 404 for an unknown product), member ids and names (the `member` block of
 * a review) and the monolith's review rows. Every carried review is marked as written by the
 * monolith, so the write-back never sends it back (see ownership.ts).
 */
export const REVIEWS_MAPPINGS: readonly TableMapping[] = Object.freeze([
  {
    source: 'public.products',
    table: 'products',
    key: ['id'],
    columns: ['id'],
  },
  {
    source: 'public.members',
    table: 'members',
    key: ['id'],
    columns: ['id', 'name'],
  },
  {
    source: 'public.reviews',
    table: 'reviews',
    key: ['id'],
    columns: ['id', 'product_id', 'member_id', 'rating', 'title', 'body', 'created_at'],
    project: (row) => ({ ...row, written_by: WRITTEN_BY_MONOLITH }),
  },
]);

/** The source tables a connector feeding the reviews service must include. */
export const REVIEWS_SOURCE_TABLES: readonly string[] = Object.freeze(
  REVIEWS_MAPPINGS.map((mapping) => mapping.source),
);
