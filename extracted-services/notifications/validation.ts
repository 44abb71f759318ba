/**
 * Query and path parameters of the notifications API, parsed and refused in the wording the
 * monolith and the catalog use: `limit must be an integer from 1 to 100, got "500"`, with `field`
 * naming the parameter.
 */
import { z } from 'zod';
import { ValidationError } from './errors.js';

/** Largest value of a Postgres `integer`, the type of every id column. */
const MAX_ID = 2_147_483_647;
const MAX_REPORTED_STRING = 40;

/** Notifications per list answer when `limit` is left out. */
export const DEFAULT_LIMIT = 20;
/** The largest `limit` a list request may ask for. */
export const MAX_LIMIT = 100;

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

/** The path parameters of `/notifications/:id`. */
export const idParams = z.object({ id: integerParam(1, MAX_ID) });

/** `?member_id=&limit=` of `GET /notifications`. */
export const listQuery = z.object({
  member_id: integerParam(1, MAX_ID).optional(),
  limit: integerParam(1, MAX_LIMIT).optional(),
});

/** Parses `input` or throws a {@link ValidationError} naming the first bad parameter. */
export function parseInput<Schema extends z.ZodType>(
  schema: Schema,
  input: unknown,
  source: 'query' | 'path',
): z.output<Schema> {
  const result = schema.safeParse(input, { reportInput: true });
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (!issue) throw new ValidationError(`invalid ${source}`, { cause: result.error });
  const field = issue.path.length === 0 ? undefined : issue.path.map(String).join('.');
  const subject = field ?? source;
  const message =
    issue.input === undefined
      ? `${subject} is required and ${issue.message}`
      : `${subject} ${issue.message}, got ${describeValue(issue.input)}`;
  throw new ValidationError(message, {
    ...(field === undefined ? {} : { field }),
    cause: result.error,
  });
}

/** A short, log-safe rendering of an offending value: `"500"`, `["1","2"]`, `a string of 812 characters`. */
function describeValue(value: unknown): string {
  if (Array.isArray(value)) {
    const json = JSON.stringify(value);
    if (value.every((item) => typeof item === 'string') && json.length <= 2 * MAX_REPORTED_STRING)
      return value.length === 0 ? 'an empty array' : json;
    return value.length === 1 ? 'an array of 1 item' : `an array of ${value.length} items`;
  }
  if (typeof value === 'string') {
    const length = [...value].length;
    return length <= MAX_REPORTED_STRING
      ? JSON.stringify(value)
      : `a string of ${length} characters`;
  }
  if (value === null || typeof value !== 'object') return String(value);
  return 'an object';
}
