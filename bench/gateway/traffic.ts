/**
 * What the benchmark's requests look like, shared by wrk, the fixed-rate generator, the
 * upstreams and the route tables. (Kept apart from the child entry scripts, which start a
 * server when imported.)
 */

/** The path every row requests. */
export const BENCH_PATH = '/bench';

/** The header a sticky canary hashes; requests cycle through CANARY_KEYS values of it. */
export const CANARY_HEADER = 'x-bench-user';
export const CANARY_KEYS = 64;

/** Upstream path that answers how many requests it has served; never counted itself. */
export const REQUEST_COUNT_PATH = '/__bench/requests';
