/**
 * JSON values as change events carry them. `bigint` appears where a Postgres `bigint` (or `oid`)
 * does not fit a JavaScript number exactly; {@link stringifyJson} writes it as a plain JSON
 * integer, as Debezium's JSON converter does.
 */
export type JsonValue =
  null | boolean | number | bigint | string | JsonValue[] | { [key: string]: JsonValue };

/** A JSON object of column name to value. */
export type JsonObject = { [key: string]: JsonValue };

const BIGINT_MARK = '\u0000ficus-bigint:';

/** JSON.stringify that writes bigint values as exact JSON integers. */
export function stringifyJson(value: unknown): string {
  // Fast path: a replacer function takes V8 off its fast serializer, and bigints are rare (only
  // int8 values beyond 2^53), so try without one first; JSON.stringify throws on a bigint.
  try {
    return JSON.stringify(value);
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
  }
  let hasBigint = false;

  const text = JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v !== 'bigint') return v;
    hasBigint = true;
    return `${BIGINT_MARK}${v.toString()}`;
  });
  if (!hasBigint) return text;
  return text.replace(/"\\u0000ficus-bigint:(-?\d+)"/g, '$1');
}
