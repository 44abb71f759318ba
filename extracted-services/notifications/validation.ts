/**
 * Query and path parameters of the notifications API, parsed and refused in the wording the
 * monolith and the catalog use: `limit must be an integer from 1 to 100, got "500"`, with `field`
 * naming the parameter.
 */
import { z } from 'zod';
import { integerParam, MAX_ID } from '../../index.js';

export { parseInput } from '../../index.js';

/** Notifications per list answer when `limit` is left out. */
export const DEFAULT_LIMIT = 20;
/** The largest `limit` a list request may ask for. */
export const MAX_LIMIT = 100;

/** The path parameters of `/notifications/:id`. */
export const idParams = z.object({ id: integerParam(1, MAX_ID) });

/** `?member_id=&limit=` of `GET /notifications`. */
export const listQuery = z.object({
  member_id: integerParam(1, MAX_ID).optional(),
  limit: integerParam(1, MAX_LIMIT).optional(),
});
