/**
 * The CDC benchmark's settings, read once from the environment, validated and frozen.
 *
 *   FICUS_BENCH_EVENTS            row changes per throughput run (default 200 000)
 *   FICUS_BENCH_REPEAT            runs per throughput row; the median is reported (default 3)
 *   FICUS_BENCH_TX_ROWS           inserts per transaction when pre-writing the changes (default 1 000)
 *   FICUS_BENCH_LATENCY_RATE      transactions per second in the latency run (default 1 000)
 *   FICUS_BENCH_LATENCY_SECONDS   measured length of the latency run (default 10)
 *   FICUS_BENCH_KAFKA             false to leave out the Kafka row (default true)
 *   FICUS_BENCH_CPU_PROF          a folder: each throughput child writes a V8 CPU profile there
 *   FICUS_BENCH_FLUSH_CONFIRM_MS  the connectors' flushConfirmIntervalMs (default: the connector's
 *                                 default; 0 = confirm only with the periodic status update)
 */
import { z } from 'zod';
import { integer, readEnvironment } from '../environment.js';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'must be true or false' })
  .transform((value) => value === 'true' || value === '1' || value === 'yes');

/** Environment variable → setting, with its schema and default. */
const ENVIRONMENT = {
  FICUS_BENCH_EVENTS: ['events', integer(1_000, 10_000_000).default(200_000)],
  FICUS_BENCH_REPEAT: ['repeat', integer(1, 20).default(3)],
  FICUS_BENCH_TX_ROWS: ['rowsPerTransaction', integer(1, 100_000).default(1_000)],
  FICUS_BENCH_LATENCY_RATE: ['latencyRate', integer(1, 20_000).default(1_000)],
  FICUS_BENCH_LATENCY_SECONDS: ['latencySeconds', integer(1, 600).default(10)],
  FICUS_BENCH_KAFKA: ['kafka', bool.default(true)],
  FICUS_BENCH_CPU_PROF: ['cpuProfileDir', z.string().min(1).optional()],
  FICUS_BENCH_FLUSH_CONFIRM_MS: ['flushConfirmIntervalMs', integer(0, 600_000).optional()],
} as const;

/** What one benchmark run measures and how. */
export interface BenchConfig {
  readonly events: number;
  readonly repeat: number;
  readonly rowsPerTransaction: number;
  readonly latencyRate: number;
  readonly latencySeconds: number;
  readonly kafka: boolean;
  readonly cpuProfileDir: string | undefined;
  readonly flushConfirmIntervalMs: number | undefined;
}

/** Reads the benchmark's settings; a bad value throws a ConfigError naming the variable. */
export function readBenchConfig(env: NodeJS.ProcessEnv = process.env): BenchConfig {
  return readEnvironment<BenchConfig>(ENVIRONMENT, env);
}
