/**
 * Path, query and body input of the review endpoints, parsed and refused with the monolith's exact
 * wording (its `legacy-monolith/validation.ts` is the reference; the tests hold the two to the
 * same bytes). The rules are the runtime's and its own, not imported from the monolith.
 */
import { z } from 'zod';
import { integerParam, MAX_ID } from '../../index.js';

export { parseInput, toPagination, type Pagination } from '../../index.js';

/** A JSON number that is an integer from `min` to `max`; strings such as "5" are refused. */
function integerField(min: number, max: number) {
  const rule = `must be an integer from ${min} to ${max}`;
  return z.int({ error: rule }).min(min, { error: rule }).max(max, { error: rule });
}

/** A JSON string of `min` to `max` code points, without NUL (Postgres `text` cannot hold it). */
function textField(min: number, max: number) {
  const rule = `must be a string of ${min} to ${max} characters`;
  return z
    .string({ error: rule })
    .refine(
      (value) => {
        const length = [...value].length;
        return length >= min && length <= max;
      },
      { error: rule },
    )
    .refine((value) => !value.includes('\u0000'), { error: 'must not contain NUL characters' });
}

/** The path parameters of `/products/:id/reviews`. */
export const idParams = z.object({ id: integerParam(1, MAX_ID) });

/** `?page=&pageSize=` of `GET /products/:id/reviews`. */
export const paginationQuery = z.object({
  page: integerParam(1, MAX_ID).optional(),
  pageSize: integerParam(1, 100).optional(),
});

/** The body of `POST /products/:id/reviews`; unknown fields are ignored. */
export const reviewBody = z.object(
  {
    memberId: integerField(1, MAX_ID),
    rating: integerField(1, 5),
    title: textField(1, 200),
    body: textField(1, 5000),
  },
  { error: 'must be a JSON object sent as Content-Type: application/json' },
);
