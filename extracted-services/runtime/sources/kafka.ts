import {
  Kafka,
  logLevel as KafkaLogLevel,
  type Admin,
  type Consumer,
  type IHeaders,
} from 'kafkajs';
import type { ChangeRecord } from '../../../cdc/index.js';
import { createSilentLogger, type Logger } from '../../../common/index.js';
import {
  deferred,
  type BatchHandler,
  type RecordSource,
  type SourceStatus,
  type StartContext,
} from './source.js';

/** Options of {@link createKafkaSource}. */
export interface KafkaSourceOptions {
  readonly brokers: readonly string[];
  /** Topics to consume (`<topicPrefix>.<schema>.<table>`). */
  readonly topics: readonly string[];
  /** Consumer group; a new group starts from the beginning of every topic (backfill). */
  readonly groupId: string;
  readonly clientId?: string;
  readonly logger?: Logger;
}

/**
 * Records from Kafka through a consumer group (kafkajs). Each partition batch is handed to the
 * handler, which applies it and the service's progress in one local transaction; the offsets are
 * committed to Kafka only after that. A crash between the two redelivers the batch, and the
 * carried-state helper skips what it already reflects, so the local copy ends the same.
 *
 * A new group reads every topic from its beginning: a backfill of every row while the topics
 * still hold the whole history, or are compacted (cdc/README.md, "Backfill"). Topics that do not exist yet (a table that never changed)
 * are created, as Kafka's auto-creation would, so the group can join before the connector writes.
 */
export function createKafkaSource(options: KafkaSourceOptions): RecordSource {
  const logger = (options.logger ?? createSilentLogger()).child({
    source: 'kafka',
    group: options.groupId,
  });
  const kafka = new Kafka({
    clientId: options.clientId ?? `ficus-${options.groupId}`,
    brokers: [...options.brokers],
    logLevel: KafkaLogLevel.NOTHING,
    connectionTimeout: 3_000,
  });
  const done = deferred();
  const lags = new Map<string, number>();
  let consumer: Consumer | undefined;
  let state: SourceStatus['state'] = 'starting';
  let lastError: string | undefined;
  let consumed = 0;

  /** Creates the topics that do not exist yet and, for a service holding nothing, rewinds. */
  async function prepare(empty: boolean): Promise<void> {
    const admin = kafka.admin();
    await admin.connect();
    try {
      const existing = new Set(await admin.listTopics());
      const missing = options.topics.filter((topic) => !existing.has(topic));
      if (missing.length > 0) {
        await admin.createTopics({
          waitForLeaders: true,
          topics: missing.map((topic) => ({ topic, numPartitions: 1 })),
        });
        logger.info({ topics: missing }, 'created topics the connector has not written yet');
      }
      if (empty) await rewind(admin);
    } finally {
      await admin.disconnect();
    }
  }

  /**
   * A service whose database holds nothing (new, or restored empty) must read the topics from the
   * start even when its group committed offsets before: otherwise it would never be backfilled.
   */
  async function rewind(admin: Admin): Promise<void> {
    try {
      const committed = await admin.fetchOffsets({
        groupId: options.groupId,
        topics: [...options.topics],
      });
      const positioned = committed.filter((t) => t.partitions.some((p) => p.offset !== '-1'));
      // A new group starts at the beginning anyway.
      if (positioned.length === 0) return;
      for (const { topic } of positioned)
        await admin.resetOffsets({ groupId: options.groupId, topic, earliest: true });
      logger.info({ topics: options.topics }, 'the service holds nothing: reading from the start');
    } catch (error) {
      logger.warn(
        { err: error },
        'could not rewind the group (are other members running?); continuing from its offsets',
      );
    }
  }

  async function start(handler: BatchHandler, context: StartContext = {}): Promise<void> {
    await prepare(context.empty === true);
    consumer = kafka.consumer({
      groupId: options.groupId,
      allowAutoTopicCreation: false,
      // A crashed instance's partitions move to another after 10 s rather than kafkajs's 30 s.
      sessionTimeout: 10_000,
      heartbeatInterval: 1_000,
    });
    const joined = new Promise<void>((resolve) => {
      consumer!.on(consumer!.events.GROUP_JOIN, () => {
        state = 'running';
        resolve();
      });
    });
    consumer.on(consumer.events.CRASH, (event) => {
      lastError = event.payload.error.message;
      logger.error(
        { err: event.payload.error, restart: event.payload.restart },
        'consumer crashed',
      );
      if (!event.payload.restart) {
        state = 'failed';
        done.reject(event.payload.error);
      }
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [...options.topics], fromBeginning: true });
    await consumer.run({
      eachBatchAutoResolve: false,
      eachBatch: async (payload) => {
        const { batch } = payload;
        if (batch.messages.length === 0 || !payload.isRunning() || payload.isStale()) return;
        const records: ChangeRecord[] = batch.messages.map((message) => ({
          topic: batch.topic,
          key: parseJson(message.key) as ChangeRecord['key'],
          value: parseJson(message.value) as ChangeRecord['value'],
          ...(message.headers && Object.keys(message.headers).length > 0
            ? { headers: headersOf(message.headers) }
            : {}),
        }));
        // kafkajs heartbeats only between batches; a long apply must not cost the partitions.
        const beat = setInterval(() => void payload.heartbeat().catch(() => undefined), 2_000);
        try {
          await handler(records);
        } catch (error) {
          lastError = (error as Error).message;
          throw error;
        } finally {
          clearInterval(beat);
        }
        payload.resolveOffset(batch.lastOffset());
        await payload.commitOffsetsIfNecessary();
        consumed += records.length;
        lags.set(`${batch.topic}/${batch.partition}`, Number(batch.offsetLag()));
      },
    });
    await joined;
    logger.info({ topics: options.topics }, 'consuming');
  }

  return {
    kind: 'kafka',
    done: done.promise,
    start,
    async stop() {
      await consumer?.disconnect();
      if (state !== 'failed') state = 'stopped';
      done.resolve();
    },
    status: () => ({
      kind: 'kafka',
      state,
      eventsBehind: lags.size === 0 ? null : [...lags.values()].reduce((a, b) => a + b, 0),
      details: { groupId: options.groupId, topics: options.topics, consumed },
      ...(lastError === undefined ? {} : { error: lastError }),
    }),
  };
}

function parseJson(buffer: Buffer | null): unknown {
  if (buffer === null || buffer.length === 0) return null;
  return JSON.parse(buffer.toString('utf8'));
}

function headersOf(headers: IHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const first = Array.isArray(value) ? value[0] : value;
    if (first !== undefined) out[name] = first.toString();
  }
  return out;
}
