/**
 * The connector's settings as users write them (cdc.yaml, environment, flags), validated once
 * and frozen. Names follow Debezium's where there is one; see cdc/README.md for the table.
 */
import { z } from 'zod';
import { parseByteSize } from './byte-size.js';
import type { Op } from './events/envelope.js';
import { DEFAULT_SIGNAL_TABLE } from './signals.js';

const list = z.preprocess(
  (value) =>
    typeof value === 'string'
      ? value
          .split(',')
          .map((item) => item.trim())
          .filter(Boolean)
      : value,
  z.array(z.string().min(1)),
);

const integer = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce
    .number({ error: 'must be a number' })
    .int('must be a whole number')
    .min(min, `must be from ${min} to ${max}`)
    .max(max, `must be from ${min} to ${max}`);

const bool = z.union([
  z.boolean(),
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'must be true or false' })
    .transform((value) => value === 'true' || value === '1' || value === 'yes'),
]);

/** A size in bytes: a whole number, or with a unit (`512MB`, `1GB`; units count in 1024s). */
export const byteSizeSchema = z.union([z.number(), z.string()]).transform((value, context) => {
  const bytes = parseByteSize(value);
  if (bytes === undefined) {
    context.addIssue({
      code: 'custom',
      message:
        'must be a whole number of bytes, optionally with a unit: 536870912, 512MB, 1GB (kB, MB, GB, TB count in 1024s)',
    });
    return z.NEVER;
  }
  return bytes;
});

const regexList = list.superRefine((entries, context) => {
  for (const entry of entries) {
    try {
      new RegExp(entry);
    } catch (error) {
      context.addIssue({
        code: 'custom',
        message: `${JSON.stringify(entry)} is not a regular expression: ${(error as Error).message}`,
      });
    }
  }
});

/** The schema of `ficus cdc` settings. */
export const cdcConfigSchema = z.object({
  databaseUrl: z
    .string()
    .regex(/^postgres(ql)?:\/\/.+/, 'must be a postgres:// or postgresql:// URL'),
  slotName: z
    .string()
    .regex(
      /^[a-z0-9_]{1,63}$/,
      'must be 1 to 63 lower-case letters, digits or underscores (a Postgres slot name)',
    )
    .default('ficus'),
  publicationName: z.string().min(1).max(63).default('ficus'),
  topicPrefix: z
    .string()
    .regex(
      /^[A-Za-z0-9_.-]+$/,
      'must be letters, digits, dots, dashes or underscores (a Kafka topic prefix)',
    )
    .default('ficus'),
  tableIncludeList: regexList.default([]),
  columnExcludeList: regexList.default([]),
  snapshotMode: z.enum(['initial', 'never', 'initial_only']).default('initial'),
  snapshotFetchSize: integer(1, 1_000_000).default(2_000),
  heartbeatIntervalMs: integer(0).default(10_000),
  heartbeatActionQuery: z.string().min(1).optional(),
  statusIntervalMs: integer(10, 600_000).default(10_000),
  /** Least ms between two reports of a newly confirmed position; 0 = only every statusIntervalMs. */
  flushConfirmIntervalMs: integer(0, 600_000).default(200),
  tombstonesOnDelete: bool.default(true),
  provideTransactionMetadata: bool.default(false),
  skippedOperations: list
    .pipe(
      z.array(
        z.enum(['c', 'u', 'd', 't', 'none'], { error: 'each must be one of c, u, d, t or none' }),
      ),
    )
    .transform((ops) => ops.filter((op): op is Exclude<typeof op, 'none'> => op !== 'none') as Op[])
    .default([]),
  decimalHandlingMode: z.enum(['string', 'double', 'precise']).default('string'),
  timePrecisionMode: z
    .enum(['adaptive', 'adaptive_time_microseconds', 'connect'])
    .default('adaptive'),
  binaryHandlingMode: z.enum(['bytes', 'base64', 'base64-url-safe', 'hex']).default('bytes'),
  intervalHandlingMode: z.enum(['numeric', 'string']).default('numeric'),
  /** Kafka Connect `key.converter.schemas.enable` / `value.converter.schemas.enable`. */
  schemasEnable: bool.default(false),
  offsetsFile: z.string().min(1).default('.ficus/cdc/offsets.json'),
  signalTable: z
    .string()
    .regex(
      /^(none|[A-Za-z_][\w$]*\.[A-Za-z_][\w$]*)$/,
      'must be schema.table (Debezium signal.data.collection) or none',
    )
    .transform((value) => (value === 'none' ? null : value))
    .default(DEFAULT_SIGNAL_TABLE),
  incrementalSnapshotChunkSize: integer(1, 1_000_000).default(1_024),
  inactiveSlotWarnBytes: byteSizeSchema.default(1024 ** 3),
  sink: z.enum(['kafka', 'stdout']).optional(),
  kafkaBrokers: list.default([]),
  kafkaPartitions: integer(1, 10_000).default(1),
  kafkaReplicationFactor: integer(1, 100).optional(),
  statusPort: integer(0, 65535).default(3200),
  statusHost: z.string().min(1).default('127.0.0.1'),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

/** Validated `ficus cdc` settings. */
export type CdcConfig = z.output<typeof cdcConfigSchema>;

/** Environment variable for each setting that has one. */
export const CDC_ENVIRONMENT: Readonly<Record<string, string>> = Object.freeze({
  databaseUrl: 'DATABASE_URL',
  slotName: 'FICUS_CDC_SLOT',
  publicationName: 'FICUS_CDC_PUBLICATION',
  topicPrefix: 'FICUS_CDC_TOPIC_PREFIX',
  tableIncludeList: 'FICUS_CDC_TABLES',
  snapshotMode: 'FICUS_CDC_SNAPSHOT',
  offsetsFile: 'FICUS_CDC_OFFSETS_FILE',
  signalTable: 'FICUS_CDC_SIGNAL_TABLE',
  schemasEnable: 'FICUS_CDC_SCHEMAS_ENABLE',
  inactiveSlotWarnBytes: 'FICUS_CDC_INACTIVE_SLOT_WARN_BYTES',
  sink: 'FICUS_CDC_SINK',
  kafkaBrokers: 'KAFKA_BROKERS',
  kafkaPartitions: 'FICUS_CDC_KAFKA_PARTITIONS',
  statusPort: 'FICUS_CDC_STATUS_PORT',
  statusHost: 'FICUS_CDC_STATUS_HOST',
  logLevel: 'FICUS_LOG_LEVEL',
});
