/**
 * Path, query and body input of the review endpoints, parsed and refused with the monolith's exact
 * wording (its `legacy-monolith/validation.ts` is the reference; the tests hold the two to the
 * same bytes). The service keeps its own copy so it does not depend on the monolith's code.
 */
import { z } from 'zod';
import { ValidationError } from './errors.js';

/** Largest value of a Postgres `integer`, the type of every id column. */
export const MAX_ID = 2_147_483_647;
const MAX_REPORTED_STRING = 40;
const DEFAULT_PAGE_SIZE = 20;

/** A decimal integer parameter from `min` to `max` ("20", not "20.0", "+20" or " 20"). */
function integerParam(min: number, max: number) {
  const rule = `must be an integer from ${min} to ${max}`;
  return z
    .string({ error: rule })
    .refine((value) => /^\d{1,16}$/.test(value) && Number(value) >= min && Number(value) <= max, {
      error: rule,
    })
    .transform(Number);
}

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

/** A page request with the defaults (page 1, pageSize 20) applied. */
export interface Pagination {
  readonly page: number;
  readonly pageSize: number;
  readonly offset: number;
}

export function toPagination(query: {
  page?: number | undefined;
  pageSize?: number | undefined;
}): Pagination {
  const page = query.page ?? 1;
  const pageSize = query.pageSize ?? DEFAULT_PAGE_SIZE;
  return { page, pageSize, offset: (page - 1) * pageSize };
}

/**
 * Parses `input` or throws a {@link ValidationError} for the first problem, naming the field:
 * `rating must be an integer from 1 to 5, got 9`.
 */
export function parseInput<Schema extends z.ZodType>(
  schema: Schema,
  input: unknown,
  source: 'query' | 'path' | 'body',
): z.output<Schema> {
  const result = schema.safeParse(input, { reportInput: true });
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (!issue) throw new ValidationError(`invalid ${source}`, { cause: result.error });
  const field = issue.path.length === 0 ? undefined : formatPath(issue.path);
  const subject = field ?? (source === 'body' ? 'request body' : source);
  const message =
    issue.input === undefined
      ? `${subject} is required and ${issue.message}`
      : `${subject} ${issue.message}, got ${describeValue(issue.input)}`;
  throw new ValidationError(message, {
    ...(field === undefined ? {} : { field }),
    cause: result.error,
  });
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out === '' ? String(segment) : `.${String(segment)}`;
  }
  return out;
}

/** A short, log-safe rendering of an offending value: `"500"`, `7`, `a string of 812 characters`. */
function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) {
    const json = JSON.stringify(value);
    if (value.every((item) => typeof item === 'string') && json.length <= 2 * MAX_REPORTED_STRING) {
      return value.length === 0 ? 'an empty array' : json;
    }
    return value.length === 1 ? 'an array of 1 item' : `an array of ${value.length} items`;
  }
  if (typeof value === 'string') {
    const length = [...value].length;
    return length <= MAX_REPORTED_STRING
      ? JSON.stringify(value)
      : `a string of ${length} characters`;
  }
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') {
    return String(value);
  }
  if (value === undefined) return 'nothing';
  return typeof value === 'object' ? 'an object' : typeof value;
}
