/**
 * Delivers records to Kafka with kafkajs: an idempotent producer with acks from all in-sync
 * replicas, the record key (the row's primary key as JSON) choosing the partition with the same
 * murmur2 hashing as Java clients, topics created when missing.
 *
 * One batch is in flight at a time, so records reach each partition in the order the connector
 * wrote them; batches that arrive meanwhile are merged into the next send. When Kafka cannot be
 * reached, the batch is retried with backoff until it is accepted (or the sink is stopped); the
 * connector confirms nothing in the meantime.
 */
import { Kafka, logLevel as KafkaLogLevel, type Admin, type Message, type Producer } from 'kafkajs';
import { createSilentLogger, FicusError, type Logger } from '../../common/index.js';
import type { ChangeRecord } from '../events/envelope.js';
import { stringifyJson } from '../events/json.js';
import type { Sink } from './sink.js';

export interface KafkaSinkOptions {
  readonly brokers: readonly string[];
  readonly clientId?: string;
  /** Partitions for topics the sink creates (default 1). */
  readonly partitions?: number;
  /** Replication factor for topics the sink creates (default: the broker's default). */
  readonly replicationFactor?: number;
  /** First and longest wait between retries while Kafka is unreachable. */
  readonly retryBackoffMs?: { readonly initial: number; readonly max: number };
  /**
   * Most bytes of keys and values in one produce request (default 800 000): brokers refuse a
   * record batch over `message.max.bytes` (1 MiB by default), so larger writes are split.
   */
  readonly maxRequestBytes?: number;
  /** Topics whose records always go to partition 0 (Debezium does this for heartbeats). */
  readonly partitionZeroTopics?: (topic: string) => boolean;
  readonly logger?: Logger;
}

/** Kafka refused or lost a batch in a way retrying cannot fix. */
export class KafkaSinkError extends FicusError {
  constructor(message: string, cause?: unknown) {
    super('FICUS_CDC_KAFKA', message, { cause });
  }
}

interface Pending {
  readonly records: readonly ChangeRecord[];
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/** Creates the Kafka sink. `start()` waits until the cluster answers (retrying with backoff). */
export function createKafkaSink(
  options: KafkaSinkOptions,
): Sink & { readonly brokers: readonly string[] } {
  const logger = options.logger ?? createSilentLogger();
  const backoff = options.retryBackoffMs ?? { initial: 250, max: 10_000 };
  const kafka = new Kafka({
    clientId: options.clientId ?? 'ficus-cdc',
    brokers: [...options.brokers],
    logLevel: KafkaLogLevel.NOTHING,
    retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 2_000 },
    connectionTimeout: 3_000,
  });
  let producer: Producer = newProducer();
  let admin: Admin | undefined;
  const knownTopics = new Set<string>();
  let queue: Pending[] = [];
  let sending = false;
  let stopped = false;

  function newProducer(): Producer {
    return kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
    });
  }

  async function ensureTopics(topics: readonly string[]): Promise<void> {
    const missing = topics.filter((topic) => !knownTopics.has(topic));
    if (missing.length === 0) return;
    admin ??= kafka.admin();
    await admin.connect();
    const existing = new Set(await admin.listTopics());
    const toCreate = missing.filter((topic) => !existing.has(topic));
    if (toCreate.length > 0) {
      await admin.createTopics({
        waitForLeaders: true,
        topics: toCreate.map((topic) => ({
          topic,
          numPartitions: options.partitions ?? 1,
          ...(options.replicationFactor ? { replicationFactor: options.replicationFactor } : {}),
        })),
      });
      logger.info({ topics: toCreate }, 'created Kafka topics');
    }
    for (const topic of missing) knownTopics.add(topic);
  }

  function toMessage(record: ChangeRecord): Message {
    const message: Message = {
      key: record.key === null ? null : stringifyJson(record.key),
      value: record.value === null ? null : stringifyJson(record.value),
    };
    if (record.headers) message.headers = record.headers;
    if (options.partitionZeroTopics?.(record.topic)) message.partition = 0;
    return message;
  }

  const maxRequestBytes = options.maxRequestBytes ?? 800_000;

  /** Sends `records` in order, in as few produce requests as the size limit allows. */
  async function send(records: readonly ChangeRecord[]): Promise<void> {
    let byTopic = new Map<string, Message[]>();
    let bytes = 0;
    const flush = async () => {
      if (byTopic.size === 0) return;
      await ensureTopics([...byTopic.keys()]);
      await producer.sendBatch({
        acks: -1,
        topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
      });
      byTopic = new Map();
      bytes = 0;
    };
    for (const record of records) {
      const message = toMessage(record);
      const size =
        (message.key?.length ?? 0) + ((message.value as string | null)?.length ?? 0) + 64;
      if (bytes + size > maxRequestBytes) await flush();
      let messages = byTopic.get(record.topic);
      if (!messages) byTopic.set(record.topic, (messages = []));
      messages.push(message);
      bytes += size;
    }
    await flush();
  }

  /** Sends queued batches one send at a time, retrying a failed send until it is accepted. */
  async function drain(): Promise<void> {
    if (sending) return;
    sending = true;
    try {
      while (queue.length > 0 && !stopped) {
        const batch = queue;
        queue = [];
        const records = batch.flatMap((pending) => pending.records);
        await sendWithRetry(records);
        for (const pending of batch) pending.resolve();
      }
    } catch (error) {
      const failed = queue;
      queue = [];
      for (const pending of failed) pending.reject(error as Error);
      throw error;
    } finally {
      sending = false;
    }
  }

  async function sendWithRetry(records: readonly ChangeRecord[]): Promise<void> {
    let wait = backoff.initial;
    for (let attempt = 1; ; attempt++) {
      try {
        await send(records);
        if (attempt > 1) logger.info({ attempt }, 'Kafka reachable again; batch delivered');
        return;
      } catch (error) {
        if (stopped) {
          throw new KafkaSinkError('Kafka sink stopped before the batch was delivered', error);
        }
        if (isPermanent(error)) {
          throw new KafkaSinkError(`Kafka refused the batch: ${describe(error)}`, error);
        }
        logger.error(
          {
            err: error,
            brokers: options.brokers,
            attempt,
            retryInMs: wait,
            records: records.length,
          },
          `Kafka unreachable or refusing writes (${describe(error)}); retrying, no position is confirmed meanwhile`,
        );
        await sleep(wait);
        wait = Math.min(wait * 2, backoff.max);
        knownTopics.clear();
        // The same producer resends with the same sequence numbers, so Kafka drops what it already
        // wrote. Only a producer that keeps failing is replaced (a new producer id may duplicate).
        if (attempt % 5 === 0) {
          await producer.disconnect().catch(() => undefined);
          producer = newProducer();
          await producer.connect().catch(() => undefined);
        }
      }
    }
  }

  return {
    kind: 'kafka',
    brokers: options.brokers,
    async start() {
      let wait = backoff.initial;
      for (let attempt = 1; !stopped; attempt++) {
        try {
          await producer.connect();
          return;
        } catch (error) {
          logger.error(
            { err: error, brokers: options.brokers, attempt, retryInMs: wait },
            `cannot reach Kafka at ${options.brokers.join(',')} (${describe(error)}); retrying`,
          );
          await sleep(wait);
          wait = Math.min(wait * 2, backoff.max);
        }
      }
    },
    write(records) {
      if (records.length === 0) return Promise.resolve();
      if (stopped) return Promise.reject(new KafkaSinkError('Kafka sink is stopped'));
      return new Promise<void>((resolve, reject) => {
        queue.push({ records, resolve, reject });
        drain().catch(() => undefined);
      });
    },
    async stop() {
      stopped = true;
      await producer.disconnect().catch(() => undefined);
      await admin?.disconnect().catch(() => undefined);
    },
  };
}

/**
 * Kafka's answer says retrying cannot help (a record over the broker's size limit, a topic that
 * may not be written): the connector must stop rather than retry forever.
 */
function isPermanent(error: unknown): boolean {
  const e = error as { name?: string; retriable?: boolean };
  return e.name === 'KafkaJSProtocolError' && e.retriable === false;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
