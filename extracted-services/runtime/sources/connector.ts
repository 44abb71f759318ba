import {
  CONNECTOR_DEFAULTS,
  createConnector,
  createEmbeddedSink,
  type Connector,
} from '../../../cdc/index.js';
import { createSilentLogger, ficusVersion, type Logger } from '../../../common/index.js';
import { createEmbeddedSource } from './embedded.js';
import { deferred, type BatchHandler, type RecordSource } from './source.js';

/** Options of {@link createConnectorSource}. */
export interface ConnectorSourceOptions {
  /** The monolith's database (wal_level=logical). */
  readonly databaseUrl: string;
  /** `schema.table` of the tables to capture. */
  readonly tables: readonly string[];
  /** The service's own replication slot and publication (one per service). */
  readonly slotName: string;
  readonly publicationName: string;
  readonly topicPrefix: string;
  /** Where the connector keeps snapshot progress. */
  readonly offsetsFile: string;
  /**
   * Warn about inactive ficus slots on the monolith's database retaining more WAL than this
   * (bytes; 0 = no check; default 1 GiB). They show in the source status as `inactiveSlots`.
   */
  readonly inactiveSlotWarnBytes?: number;
  readonly logger?: Logger;
}

/**
 * Records from a CDC connector that this service runs itself, on its own replication slot, with
 * the in-process sink: a service on one machine without Kafka. A new slot starts with a snapshot
 * of the captured tables, so a service started late is backfilled; the slot's position is
 * confirmed only after the service applied the batch.
 */
export function createConnectorSource(options: ConnectorSourceOptions): RecordSource {
  const logger = options.logger ?? createSilentLogger();
  const sink = createEmbeddedSink();
  const embedded = createEmbeddedSource({ sink, logger });
  const done = deferred();
  let connector: Connector | undefined;

  return {
    kind: 'connector',
    done: done.promise,
    async start(handler: BatchHandler) {
      await embedded.start(handler);
      connector = createConnector({
        ...CONNECTOR_DEFAULTS,
        databaseUrl: options.databaseUrl,
        slotName: options.slotName,
        publicationName: options.publicationName,
        tableIncludeList: options.tables.map((table) => `^${escapeRegExp(table)}$`),
        columnExcludeList: [],
        topicPrefix: options.topicPrefix,
        offsetsFile: options.offsetsFile,
        ...(options.inactiveSlotWarnBytes === undefined
          ? {}
          : { inactiveSlotWarnBytes: options.inactiveSlotWarnBytes }),
        sink,
        logger: logger.child({ part: 'cdc' }),
        version: ficusVersion(),
      });
      connector.done.then(done.resolve, done.reject);
      await connector.start();
    },
    async stop() {
      await connector?.stop();
      await embedded.stop();
      done.resolve();
    },
    status() {
      const own = embedded.status();
      const cdc = connector?.status();
      return {
        kind: 'connector',
        state: cdc === undefined ? 'starting' : cdc.state === 'failed' ? 'failed' : own.state,
        eventsBehind: null,
        details: {
          slot: options.slotName,
          ...(cdc
            ? {
                connector: cdc.state,
                lagBytes: cdc.slotLagBytes ?? null,
                inactiveSlots: cdc.inactiveSlots,
              }
            : {}),
        },
        ...(own.error === undefined ? {} : { error: own.error }),
      };
    },
  };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
