/**
 * Query, path and body parameters, parsed and refused with the monolith's wording
 * (`pageSize must be an integer from 1 to 100, got "500"`, with `field` naming the parameter).
 * Services keep to the monolith's rules without importing its code; their tests hold the answers
 * to the same bytes.
 */
import { z } from 'zod';
import { ValidationError } from './errors.js';

/** Largest value of a Postgres `integer`, the type of every id column. */
export const MAX_ID = 2_147_483_647;
const MAX_REPORTED_STRING = 40;

/** A decimal integer parameter from `min` to `max` ("20", not "20.0", "+20" or " 20"). */
export function integerParam(min: number, max: number) {
  const rule = `must be an integer from ${min} to ${max}`;
  return z
    .string({ error: rule })
    .refine((value) => /^\d{1,16}$/.test(value) && Number(value) >= min && Number(value) <= max, {
      error: rule,
    })
    .transform(Number);
}

/** A page request with the defaults applied. */
export interface Pagination {
  readonly page: number;
  readonly pageSize: number;
  readonly offset: number;
}

/** `page` (default 1) and `pageSize` (default 20) as an offset. */
export function toPagination(
  query: { page?: number | undefined; pageSize?: number | undefined },
  defaultPageSize = 20,
): Pagination {
  const page = query.page ?? 1;
  const pageSize = query.pageSize ?? defaultPageSize;
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
