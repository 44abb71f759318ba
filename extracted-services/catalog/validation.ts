/**
 * Query and path parameters of the catalog, refused with the monolith's exact wording (its
 * `legacy-monolith/validation.ts` is the reference; the tests hold the two to the same bytes).
 * The rules are the runtime's, not imported from the monolith.
 */
import { z } from 'zod';
import { integerParam, MAX_ID } from '../../index.js';

export { describeValue, parseInput, toPagination, type Pagination } from '../../index.js';

/** The path parameters of `/products/:id`. */
export const idParams = z.object({ id: integerParam(1, MAX_ID) });

/** `?page=&pageSize=&category=` of `GET /products`. */
export const productListQuery = z.object({
  page: integerParam(1, MAX_ID).optional(),
  pageSize: integerParam(1, 100).optional(),
  category: z.string({ error: 'must be a category slug' }).optional(),
});
