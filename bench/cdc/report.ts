/** Turns measurements into the tables `npm run bench:cdc` prints. */
import type { LatencyResult, LatencyStats } from './latency.js';
import { median, rateOf, type ThroughputSample } from './samples.js';

/** One throughput row: its samples, or why it was not measured. */
export interface ThroughputRow {
  readonly label: string;
  readonly samples: ThroughputSample[];
  readonly skipped?: string | undefined;
}

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const oneDecimal = new Intl.NumberFormat('en-US', {
  minimumFractionDigits: 1,
  maximumFractionDigits: 1,
});

/** Lays out `rows` under `headers` in aligned columns; the first column is left-aligned. */
export function formatTable(headers: readonly string[], rows: readonly string[][]): string {
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) =>
        column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!),
      )
      .join('   ')
      .trimEnd();
  const rule = widths.map((width) => '─'.repeat(width)).join('   ');
  return [line(headers), rule, ...rows.map(line)].join('\n');
}

function medianOf(row: ThroughputRow, pick: (sample: ThroughputSample) => number | undefined) {
  const values = row.samples.map(pick).filter((value): value is number => value !== undefined);
  return values.length === 0 ? undefined : median(values);
}

/** Median events/s of a row, or undefined when it has no samples. */
export function medianRate(row: ThroughputRow): number | undefined {
  return medianOf(row, rateOf);
}

/**
 * The throughput table: median rate, spread, ratio to the ceiling, peak RSS, the CPU share of
 * the ficus process and of the Postgres process that decoded, and how much of the run the
 * walsender spent waiting for ficus to read (medians). Skipped rows get a footnote.
 */
export function throughputTable(rows: readonly ThroughputRow[], ceiling: number): string {
  const headers = [
    'measurement',
    'events/s',
    'min – max',
    '× ceiling',
    'peak RSS',
    'ficus CPU',
    'Postgres CPU',
    'PG waits on ficus',
  ];
  const percent = (value: number | undefined) =>
    value === undefined ? '—' : `${integer.format(value)}%`;
  const notes: string[] = [];
  const body = rows.map((row) => {
    const rate = medianRate(row);
    if (rate === undefined) {
      notes.push(`${row.label} skipped: ${row.skipped ?? 'not measured'}`);
      return [row.label, 'skipped', '', '', '', '', '', ''];
    }
    const rates = row.samples.map(rateOf);
    const rss = Math.max(...row.samples.map((sample) => sample.peakRssMiB ?? Number.NaN));
    return [
      row.label,
      integer.format(rate),
      `${integer.format(Math.min(...rates))} – ${integer.format(Math.max(...rates))}`,
      `${(rate / ceiling).toFixed(2)}×`,
      Number.isNaN(rss) ? '—' : `${integer.format(rss)} MiB`,
      percent(medianOf(row, (sample) => sample.cpuPercent)),
      percent(medianOf(row, (sample) => sample.serverCpuPercent)),
      percent(medianOf(row, (sample) => sample.serverBlockedPercent)),
    ];
  });
  return [formatTable(headers, body), ...notes].join('\n');
}

/** "ficus → null = 0.62× raw decode" lines for every measured row but the ceiling itself. */
export function ratioLines(rows: readonly ThroughputRow[], ceiling: ThroughputRow): string[] {
  const top = medianRate(ceiling);
  if (top === undefined) return [];
  return rows
    .filter((row) => row !== ceiling)
    .flatMap((row) => {
      const rate = medianRate(row);
      return rate === undefined ? [] : [`${row.label} = ${(rate / top).toFixed(2)}× raw decode`];
    });
}

/** The latency run: what was achieved, then the distribution from each starting point. */
export function latencyTable(result: LatencyResult): string {
  const ms = (value: number) => `${oneDecimal.format(value)} ms`;
  const row = (label: string, stats: LatencyStats) => [
    label,
    ms(stats.min),
    ms(stats.p50),
    ms(stats.p99),
    ms(stats.max),
  ];
  const summary =
    `latency: ${integer.format(result.rate)} tx/s target (1 insert each) for ${result.seconds} s, ` +
    `${oneDecimal.format(result.achievedRate)} tx/s achieved, ` +
    `${integer.format(result.delivered)}/${integer.format(result.measured)} delivered, ` +
    `writer start lag max ${ms(result.maxStartLagMs)}`;
  const table = formatTable(
    ['→ embedded sink handler, from', 'min', 'p50', 'p99', 'max'],
    [
      row('writer saw COMMIT return', result.fromCommitReturned),
      row('commit timestamp in WAL (source.ts_us)', result.fromCommitTimestamp),
    ],
  );
  return `${summary}\n\n${table}`;
}
