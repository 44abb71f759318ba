/**
 * How the benchmark configures ficus connectors: the shipped defaults, streaming only, no
 * heartbeats (they would add records the counts do not expect).
 */
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  CONNECTOR_DEFAULTS,
  createConnector,
  createEmbeddedSink,
  type ConnectorOptions,
  type Sink,
} from '../../cdc/index.js';

/** Topic prefix of every benchmark connector (`bench.public.bench_rows`). */
export const TOPIC_PREFIX = 'bench';

/** What differs between the benchmark's connectors. */
export interface BenchConnectorTarget {
  readonly url: string;
  readonly slot: string;
  readonly publication: string;
  /** The one captured table, in the `public` schema. */
  readonly table: string;
  /** The connector's flushConfirmIntervalMs; its default when absent. */
  readonly flushConfirmIntervalMs?: number | undefined;
}

/** Connector options for `target` delivering to `sink`. */
export function benchConnectorOptions(target: BenchConnectorTarget, sink: Sink): ConnectorOptions {
  return {
    ...CONNECTOR_DEFAULTS,
    databaseUrl: target.url,
    slotName: target.slot,
    publicationName: target.publication,
    tableIncludeList: [`public.${target.table}`],
    columnExcludeList: [],
    topicPrefix: TOPIC_PREFIX,
    snapshotMode: 'never',
    heartbeatIntervalMs: 0,
    flushConfirmIntervalMs:
      target.flushConfirmIntervalMs ?? CONNECTOR_DEFAULTS.flushConfirmIntervalMs,
    // Only read for snapshotMode 'initial'; never written here.
    offsetsFile: path.join(tmpdir(), `ficus-bench-${target.slot}.offsets.json`),
    version: 'bench',
    sink,
  };
}

/**
 * Creates `target`'s slot (and publication) the way a user's first start does: a connector that
 * streams only, started on a table with nothing pending and stopped again. The slot then holds
 * every change written afterwards until a connector consumes it.
 */
export async function createSlotWithConnector(target: BenchConnectorTarget): Promise<void> {
  const connector = createConnector(benchConnectorOptions(target, createEmbeddedSink()));
  await connector.start();
  await connector.stop();
}
