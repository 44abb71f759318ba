/**
 * The gateway benchmark's settings, read once from the environment, validated and frozen.
 *
 *   FICUS_BENCH_GATEWAY_REPEAT          wrk runs per row; the median is reported (default 3)
 *   FICUS_BENCH_GATEWAY_DURATION        seconds per wrk run (default 10)
 *   FICUS_BENCH_GATEWAY_WARMUP          seconds of wrk before a row's first run, not counted (default 2)
 *   FICUS_BENCH_GATEWAY_CONNECTIONS     wrk connections (default 50)
 *   FICUS_BENCH_GATEWAY_THREADS         wrk threads (default 1)
 *   FICUS_BENCH_GATEWAY_RATE            requests/s in the fixed-rate latency run (default 1 000)
 *   FICUS_BENCH_GATEWAY_RATE_SECONDS    measured seconds of the fixed-rate run (default 10)
 *   FICUS_BENCH_GATEWAY_NGINX_WORKERS   nginx worker_processes: a number or auto (default 1)
 */
import { z } from 'zod';
import { integer, readEnvironment } from '../environment.js';

const workers = z
  .string()
  .regex(/^(?:auto|[1-9][0-9]?)$/, 'must be auto or a number of workers from 1 to 99');

/** Environment variable → setting, with its schema and default. */
const ENVIRONMENT = {
  FICUS_BENCH_GATEWAY_REPEAT: ['repeat', integer(1, 20).default(3)],
  FICUS_BENCH_GATEWAY_DURATION: ['durationSeconds', integer(1, 600).default(10)],
  FICUS_BENCH_GATEWAY_WARMUP: ['warmupSeconds', integer(0, 60).default(2)],
  FICUS_BENCH_GATEWAY_CONNECTIONS: ['connections', integer(1, 10_000).default(50)],
  FICUS_BENCH_GATEWAY_THREADS: ['threads', integer(1, 64).default(1)],
  FICUS_BENCH_GATEWAY_RATE: ['rate', integer(1, 50_000).default(1_000)],
  FICUS_BENCH_GATEWAY_RATE_SECONDS: ['rateSeconds', integer(1, 600).default(10)],
  FICUS_BENCH_GATEWAY_NGINX_WORKERS: ['nginxWorkers', workers.default('1')],
} as const;

/** What one benchmark run measures and how. */
export interface GatewayBenchConfig {
  readonly repeat: number;
  readonly durationSeconds: number;
  readonly warmupSeconds: number;
  readonly connections: number;
  readonly threads: number;
  readonly rate: number;
  readonly rateSeconds: number;
  readonly nginxWorkers: string;
}

/** Reads the benchmark's settings; a bad value throws a ConfigError naming the variable. */
export function readGatewayBenchConfig(env: NodeJS.ProcessEnv = process.env): GatewayBenchConfig {
  return readEnvironment<GatewayBenchConfig>(ENVIRONMENT, env);
}
