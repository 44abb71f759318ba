import { z } from 'zod';
import { ValidationError } from './errors.js';

/** Largest value of a Postgres `integer`, the type of every id column. */
export const MAX_ID = 2_147_483_647;

const MAX_REPORTED_STRING = 40;

/**
 * A query or path parameter holding a decimal integer from `min` to `max` ("20", not "20.0",
 * "+20" or " 20"). Parses to a number.
 */
export function integerParam(min: number, max: number) {
  const rule = `must be an integer from ${min} to ${max}`;
  return z
    .string({ error: rule })
    .refine((value) => /^\d{1,16}$/.test(value) && Number(value) >= min && Number(value) <= max, {
      error: rule,
    })
    .transform(Number);
}

/** A path parameter holding a row id. */
export const idParam = integerParam(1, MAX_ID);

/** The path parameters of a route such as `/products/:id`. */
export const idParams = z.object({ id: idParam });

/** A JSON number that is an integer from `min` to `max`; strings such as "5" are refused. */
export function integerField(min: number, max: number) {
  const rule = `must be an integer from ${min} to ${max}`;
  return z.int({ error: rule }).min(min, { error: rule }).max(max, { error: rule });
}

/** A JSON number naming a row id. */
export const idField = integerField(1, MAX_ID);

/**
 * A JSON string of `min` to `max` characters (Unicode code points, as Postgres counts them).
 * NUL is refused because Postgres `text` cannot hold it.
 */
export function textField(min: number, max: number) {
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

/** A JSON request body: an object whose fields follow `shape`. Unknown fields are ignored. */
export function bodySchema<Shape extends z.ZodRawShape>(shape: Shape) {
  return z.object(shape, { error: 'must be a JSON object sent as Content-Type: application/json' });
}

/** `?page=&pageSize=` as every paginated list accepts them. */
export const paginationQuery = z.object({
  page: integerParam(1, MAX_ID).optional(),
  pageSize: integerParam(1, 100).optional(),
});

/** A page request resolved to numbers, with the defaults applied. */
export interface Pagination {
  readonly page: number;
  readonly pageSize: number;
  readonly offset: number;
}

/** Default `pageSize` of every paginated list. */
export const DEFAULT_PAGE_SIZE = 20;

/** Applies the defaults (page 1, pageSize 20) to parsed pagination parameters. */
export function toPagination(query: {
  page?: number | undefined;
  pageSize?: number | undefined;
}): Pagination {
  const page = query.page ?? 1;
  const pageSize = query.pageSize ?? DEFAULT_PAGE_SIZE;
  return { page, pageSize, offset: (page - 1) * pageSize };
}

/** Where an input came from, used to word the message when the whole input is wrong. */
export type InputSource = 'query' | 'path' | 'body';

/**
 * Parses `input` with `schema` or throws a {@link ValidationError} for the first problem, naming
 * the field (`items[1].quantity`), what is allowed and what was sent:
 * `pageSize must be an integer from 1 to 100, got "500"`.
 */
export function parseInput<Schema extends z.ZodType>(
  schema: Schema,
  input: unknown,
  source: InputSource,
): z.output<Schema> {
  const result = schema.safeParse(input, { reportInput: true });
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (!issue) throw new ValidationError(`invalid ${source}`, { cause: result.error });
  const { field, message } = describeIssue(issue, source === 'body' ? 'request body' : source);
  throw new ValidationError(message, { field, cause: result.error });
}

/** A zod issue as a field name and a sentence that starts with it. */
export function describeIssue(
  issue: z.core.$ZodIssue,
  rootLabel: string,
): { field: string | undefined; message: string } {
  const field = issue.path.length === 0 ? undefined : formatPath(issue.path);
  const subject = field ?? rootLabel;
  const message =
    issue.input === undefined
      ? `${subject} is required and ${issue.message}`
      : `${subject} ${issue.message}, got ${describeValue(issue.input)}`;
  return { field, message };
}

/** `['items', 2, 'quantity']` → `items[2].quantity`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out === '' ? String(segment) : `.${String(segment)}`;
  }
  return out;
}

/** A short, log-safe rendering of an offending value: `"500"`, `7`, `a string of 812 characters`. */
export function describeValue(value: unknown): string {
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
