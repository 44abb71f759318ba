/** Turns the gateway measurements into the tables and goal checks `npm run bench:gateway` prints. */
import { formatTable } from '../cdc/report.js';
import { median } from '../cdc/samples.js';
import type { FixedRateResult } from './fixed-rate.js';
import type { WrkSample } from './wrk.js';

/** The rows, in the order they are measured and printed. */
export const ROW_KEYS = [
  'direct',
  'plain',
  'nginx',
  'ficus-new',
  'ficus-canary',
  'ficus-shadow',
] as const;
export type RowKey = (typeof ROW_KEYS)[number];

/** Requests upstream A and B served during one wrk run, per request wrk completed. */
export interface UpstreamShare {
  readonly a: number;
  readonly b: number;
}

/** One throughput row: its wrk runs, or why it was not measured. */
export interface ThroughputRow {
  readonly key: RowKey;
  readonly label: string;
  readonly samples: WrkSample[];
  readonly shares: UpstreamShare[];
  skipped?: string | undefined;
}

/** The fixed-rate latency run of one target, or why it was not run. */
export interface FixedRateRow {
  readonly label: string;
  readonly result?: FixedRateResult | undefined;
  readonly skipped?: string | undefined;
}

/** A goal and whether this run met it. */
export interface GoalCheck {
  readonly goal: string;
  /** undefined: not measured. */
  readonly met: boolean | undefined;
  readonly detail: string;
}

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const ms = (value: number) => `${value < 10 ? value.toFixed(2) : value.toFixed(1)} ms`;

function medianOf(samples: readonly WrkSample[], pick: (sample: WrkSample) => number) {
  return samples.length === 0 ? undefined : median(samples.map(pick));
}

/** Median requests/s of a row, or undefined when it has no samples. */
export function medianRate(row: ThroughputRow | undefined): number | undefined {
  return row && medianOf(row.samples, (sample) => sample.requestsPerSecond);
}

/**
 * The throughput table: median req/s with its spread, median p50 and p99 (each the median of
 * the runs' own percentiles), ratio to direct, where the requests went, and errors.
 */
export function throughputTable(rows: readonly ThroughputRow[]): string {
  const direct = medianRate(rows.find((row) => row.key === 'direct'));
  const headers = [
    'row',
    'req/s',
    'min – max',
    'p50',
    'p99',
    '× direct',
    'upstream A / B',
    'errors',
  ];
  const notes: string[] = [];
  const body = rows.map((row) => {
    const rate = medianRate(row);
    if (rate === undefined) {
      notes.push(`${row.label}: skipped, ${row.skipped ?? 'not measured'}`);
      return [row.label, 'skipped', '', '', '', '', '', ''];
    }
    const rates = row.samples.map((sample) => sample.requestsPerSecond);
    const share = (pick: (share: UpstreamShare) => number) =>
      row.shares.length === 0 ? '—' : median(row.shares.map(pick)).toFixed(2);
    const errors = row.samples.reduce((sum, sample) => sum + sample.errors, 0);
    const requests = row.samples.reduce((sum, sample) => sum + sample.requests, 0);
    if (errors > 0) {
      notes.push(
        `${row.label}: ${integer.format(errors)} of ${integer.format(requests)} requests failed ` +
          '(non-2xx/3xx, socket errors or timeouts); its req/s counts them',
      );
    }
    return [
      row.label,
      integer.format(rate),
      `${integer.format(Math.min(...rates))} – ${integer.format(Math.max(...rates))}`,
      ms(medianOf(row.samples, (sample) => sample.p50Ms)!),
      ms(medianOf(row.samples, (sample) => sample.p99Ms)!),
      direct === undefined ? '—' : `${(rate / direct).toFixed(2)}×`,
      `${share((s) => s.a)} / ${share((s) => s.b)}`,
      integer.format(errors),
    ];
  });
  return [formatTable(headers, body), ...notes].join('\n');
}

/** The fixed-rate table. */
export function fixedRateTable(rows: readonly FixedRateRow[], rate: number): string {
  const headers = [
    `at ${integer.format(rate)} req/s, open loop`,
    'requests',
    'p50',
    'p99',
    'max',
    'errors',
    'send lag p99',
  ];
  const notes: string[] = [];
  const body = rows.map(({ label, result, skipped }) => {
    if (!result) {
      notes.push(`${label}: skipped, ${skipped ?? 'not measured'}`);
      return [label, 'skipped', '', '', '', '', ''];
    }
    return [
      label,
      integer.format(result.sent),
      ms(result.p50Ms),
      ms(result.p99Ms),
      ms(result.maxMs),
      integer.format(result.errors),
      ms(result.lagP99Ms),
    ];
  });
  return [formatTable(headers, body), ...notes].join('\n');
}

/** The three goals the gateway is held to. */
export function goalChecks(
  rows: readonly ThroughputRow[],
  fixedRate: { readonly direct?: FixedRateResult; readonly ficus?: FixedRateResult },
  rate: number,
): GoalCheck[] {
  const rateOf = (key: RowKey) => medianRate(rows.find((row) => row.key === key));
  const ratioGoal = (goal: string, other: RowKey, factor: number): GoalCheck => {
    const ficus = rateOf('ficus-new');
    const base = rateOf(other);
    if (ficus === undefined || base === undefined) {
      return { goal, met: undefined, detail: 'not measured' };
    }
    const ratio = ficus / base;
    return {
      goal,
      met: ratio >= factor,
      detail:
        `${ratio.toFixed(2)}× (ficus new ${integer.format(ficus)} req/s, ` +
        `${other} ${integer.format(base)} req/s)`,
    };
  };
  const latencyGoal = `adds < 1 ms at p99 at ${integer.format(rate)} req/s`;
  const { direct, ficus } = fixedRate;
  const added = direct && ficus ? ficus.p99Ms - direct.p99Ms : undefined;
  return [
    ratioGoal('ficus new ≥ 4× plain', 'plain', 4),
    ratioGoal('ficus new ≥ 0.5× nginx', 'nginx', 0.5),
    added === undefined || !direct || !ficus
      ? { goal: latencyGoal, met: undefined, detail: 'not measured' }
      : {
          goal: latencyGoal,
          met: added < 1,
          detail: `adds ${ms(added)} at p99 (ficus new ${ms(ficus.p99Ms)}, direct ${ms(direct.p99Ms)})`,
        },
  ];
}

/** "pass  ficus new ≥ 4× plain   5.10× (…)" lines. */
export function goalLines(checks: readonly GoalCheck[]): string[] {
  const width = Math.max(...checks.map((check) => check.goal.length));
  const verdict = (met: boolean | undefined) =>
    met === undefined ? '  ?  ' : met ? ' pass' : ' FAIL';
  return checks.map(
    (check) => `${verdict(check.met)}  ${check.goal.padEnd(width)}   ${check.detail}`,
  );
}
