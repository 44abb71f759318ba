/**
 * Byte counts as people write and read them: `536870912`, `512MB`, `1 GiB`. Units are 1024-based,
 * as in postgresql.conf (`kB`, `MB`, `GB`, `TB`); `KiB`, `MiB`, `GiB` and `TiB` mean the same.
 */

const UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4,
};

/** `512MB` → 536870912; undefined when `value` is not a whole, non-negative byte count. */
export function parseByteSize(value: string | number): number | undefined {
  if (typeof value === 'number')
    return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*(?:([kmgt])(?:i?b)?|(b))?\s*$/i.exec(value);
  if (!match) return undefined;
  const unit = (match[2] ?? match[3] ?? '').toLowerCase();
  const bytes = Math.round(Number(match[1]) * UNITS[unit]!);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** 1288490188 → `1.2 GiB`; whole bytes below 1 KiB. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const;
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}
