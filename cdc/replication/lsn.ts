/**
 * Log sequence numbers: 64-bit byte positions in the Postgres write-ahead log, written by
 * Postgres as two hex halves (`16/B374D848`). Kept as bigint in code; Debezium's `source.lsn` is
 * the same number as a JSON integer.
 */
export type Lsn = bigint;

/** Parses Postgres's `X/Y` notation. */
export function parseLsn(text: string): Lsn {
  const match = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text);
  if (!match) throw new TypeError(`not an LSN: ${JSON.stringify(text)} (expected hex "X/Y")`);
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`);
}

/** Formats in Postgres's `X/Y` notation (upper-case hex, as pg_lsn prints it). */
export function formatLsn(lsn: Lsn): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}
