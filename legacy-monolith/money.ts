/**
 * Money travels as decimal strings with exactly two places ("19.99"), the way Postgres returns
 * `numeric(p,2)`. Arithmetic happens on integer cents so no binary floating point is involved.
 */

const MONEY = /^(-?)(\d+)\.(\d{2})$/;

/** Parses "19.99" into 1999. Throws on anything that is not a two-place decimal string. */
export function toCents(amount: string): number {
  const match = MONEY.exec(amount);
  if (!match)
    throw new TypeError(`not a money amount with two decimals: ${JSON.stringify(amount)}`);
  const [, sign, whole, fraction] = match;
  const cents = Number(whole) * 100 + Number(fraction);
  if (!Number.isSafeInteger(cents)) throw new RangeError(`money amount out of range: ${amount}`);
  return sign === '-' ? -cents : cents;
}

/** Formats 1999 as "19.99". */
export function formatCents(cents: number): string {
  if (!Number.isSafeInteger(cents)) throw new RangeError(`not a whole number of cents: ${cents}`);
  const sign = cents < 0 ? '-' : '';
  const abs = Math.abs(cents);
  return `${sign}${Math.trunc(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}
