import { Kafka, logLevel, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkKafkaPrerequisites,
  startKafkaBroker,
  type KafkaBroker,
} from '../support/kafka-broker.js';
import { uniqueName } from '../support/kafka.js';

/**
 * The harness's crash/restart support, on a broker of this file's own (restarting the shared one
 * would disturb every other test): what CDC at-least-once tests rely on when they restart Kafka
 * mid-stream. The client is configured like the CDC Kafka sink's (cdc/sinks/kafka.ts).
 */
const prerequisites = await checkKafkaPrerequisites();
if (!prerequisites.ok && process.env.CI) {
  throw new Error(
    `Kafka tests must run in CI, but the broker cannot start: ${prerequisites.missing}`,
  );
}
const skipReason = prerequisites.ok ? '' : ` (skipped: ${prerequisites.missing})`;

describe.skipIf(!prerequisites.ok)(`a persistent Kafka test broker${skipReason}`, () => {
  let broker: KafkaBroker;
  let kafka: Kafka;

  beforeAll(async () => {
    broker = await startKafkaBroker({ persistent: true });
    kafka = new Kafka({
      clientId: 'ficus-test-restart',
      brokers: broker.brokers,
      logLevel: logLevel.NOTHING,
      retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 2_000 },
      connectionTimeout: 3_000,
    });
  });

  afterAll(async () => {
    await broker?.destroy();
  });

  /** An idempotent producer as the CDC sink makes it: no producer-level retry limit. */
  function idempotentProducer(): Producer {
    return kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  }

  async function createTopic(): Promise<string> {
    const topic = uniqueName('restart');
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    } finally {
      await admin.disconnect();
    }
    return topic;
  }

  async function send(producer: Producer, topic: string, values: string[]): Promise<void> {
    await producer.send({ topic, acks: -1, messages: values.map((value) => ({ value })) });
  }

  async function clusterId(): Promise<string> {
    const admin = kafka.admin();
    await admin.connect();
    try {
      return (await admin.describeCluster()).clusterId;
    } finally {
      await admin.disconnect();
    }
  }

  /** Everything in the topic, read by a new consumer group from the beginning. */
  async function readAll(topic: string): Promise<string[]> {
    const admin = kafka.admin();
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets(topic).finally(() => admin.disconnect());
    const count = offsets.reduce((sum, { high, low }) => sum + Number(high) - Number(low), 0);
    if (count === 0) return [];

    const consumer = kafka.consumer({ groupId: uniqueName('restart-group') });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      const values: string[] = [];
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`read ${values.length} of ${count} messages within 30 s`)),
          30_000,
        );
        consumer
          .run({
            eachMessage: ({ message }) => {
              values.push(message.value?.toString() ?? '');
              if (values.length === count) {
                clearTimeout(timer);
                resolve();
              }
              return Promise.resolve();
            },
          })
          .catch((error: unknown) => {
            clearTimeout(timer);
            reject(error instanceof Error ? error : new Error(String(error)));
          });
      });
      return values;
    } finally {
      await consumer.disconnect();
    }
  }

  async function settle(promise: Promise<unknown>): Promise<{ error?: Error }> {
    try {
      await promise;
      return {};
    } catch (error) {
      return { error: error instanceof Error ? error : new Error(String(error)) };
    }
  }

  async function timed(operation: () => Promise<void>): Promise<number> {
    const startedAt = performance.now();
    await operation();
    return Math.round(performance.now() - startedAt);
  }

  function report(what: string, ms: number): void {
    console.log(`kafka-broker-restart: ${what} took ${ms} ms (Kafka ${broker.version})`);
  }

  it('restarts on the same address with its data and cluster id, repeatedly; the same idempotent producer goes on', async () => {
    const topic = await createTopic();
    const producer = idempotentProducer();
    await producer.connect();
    try {
      const addresses = [...broker.brokers];
      const id = await clusterId();
      const sent = ['before-1', 'before-2', 'before-3'];
      await send(producer, topic, sent);

      for (const [round, downtimeMs] of [0, 1_000].entries()) {
        report(
          `restart({ downtimeMs: ${downtimeMs} })`,
          await timed(() => broker.restart({ downtimeMs })),
        );
        expect(broker.brokers).toEqual(addresses);
        expect(await clusterId()).toBe(id);
        // The producer from before the restart, neither reconnected nor recreated.
        const value = `after-restart-${round + 1}`;
        report(
          `first send after restart ${round + 1}`,
          await timed(() => send(producer, topic, [value])),
        );
        sent.push(value);
      }

      expect(await readAll(topic)).toEqual(sent);
    } finally {
      await producer.disconnect();
    }
  }, 120_000);

  it('keeps every acknowledged message through kill() (SIGKILL) and start(); a send that failed while it was down succeeds on the same producer once it is back', async () => {
    const topic = await createTopic();
    const producer = idempotentProducer();
    await producer.connect();
    try {
      await send(producer, topic, ['before-kill-1', 'before-kill-2']);
      report('kill()', await timed(() => broker.kill()));

      // The client's retry budget (~1 s here, as in the CDC sink) runs out while the broker is
      // down; the idempotent producer's own unlimited retries do not apply to that error.
      const failedAt = performance.now();
      const whileDown = await settle(send(producer, topic, ['sent-while-down']));
      report('a send while down, until it failed', Math.round(performance.now() - failedAt));
      expect(whileDown.error?.name).toBe('KafkaJSNonRetriableError');

      report('start() after kill()', await timed(() => broker.start()));
      // The same producer instance: not reconnected, not recreated.
      await send(producer, topic, ['sent-while-down']);
      await send(producer, topic, ['after-start']);

      expect(await readAll(topic)).toEqual([
        'before-kill-1',
        'before-kill-2',
        'sent-while-down',
        'after-start',
      ]);
    } finally {
      await producer.disconnect();
    }
  }, 120_000);

  it('completes a send issued while it is down by itself, if the client retries for longer than the downtime', async () => {
    const topic = await createTopic();
    const patient = new Kafka({
      clientId: 'ficus-test-restart-patient',
      brokers: broker.brokers,
      logLevel: logLevel.NOTHING,
      retry: { retries: 10, initialRetryTime: 300, maxRetryTime: 2_000 }, // ~15 s
    });
    const producer = patient.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    try {
      await send(producer, topic, ['before-kill']);
      await broker.kill();
      const sentAt = performance.now();
      const whileDown = settle(send(producer, topic, ['sent-while-down']));
      await broker.start();
      expect((await whileDown).error).toBeUndefined();
      report(
        'a send issued while down, until acknowledged',
        Math.round(performance.now() - sentAt),
      );
      expect(await readAll(topic)).toEqual(['before-kill', 'sent-while-down']);
    } finally {
      await producer.disconnect();
    }
  }, 120_000);

  it('neither loses nor duplicates a message when restarted and killed mid-stream, failed sends being retried on the same producer', async () => {
    const topic = await createTopic();
    const producer = idempotentProducer();
    await producer.connect();
    const disruptions: Promise<void>[] = [];
    try {
      const sent: string[] = [];
      let failedSends = 0;
      for (let i = 0; i < 60; i++) {
        // Operations on one broker run in call order: restart, then kill, then start.
        if (i === 20) disruptions.push(broker.restart());
        if (i === 40) disruptions.push(broker.kill(), broker.start());
        const value = `m${i}`;
        // As the CDC sink does: retry a failed send until it is accepted.
        while ((await settle(send(producer, topic, [value]))).error) {
          failedSends++;
          await sleep(200);
        }
        sent.push(value);
      }
      await Promise.all(disruptions);
      console.log(`kafka-broker-restart: mid-stream, ${failedSends} sends failed and were retried`);
      expect(await readAll(topic)).toEqual(sent);
    } finally {
      await Promise.allSettled(disruptions);
      await producer.disconnect();
    }
  }, 120_000);

  it('is gone after destroy(): it cannot be started again', async () => {
    await broker.destroy();
    await broker.destroy(); // safe twice
    await expect(broker.start()).rejects.toThrow(/destroyed/);
  });
});

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
