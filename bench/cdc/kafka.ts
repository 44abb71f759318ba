/**
 * The real Kafka broker the Kafka row delivers to (tests/support/kafka-broker.ts), or the reason
 * there is none.
 */
import kafkajs from 'kafkajs';
import {
  checkKafkaPrerequisites,
  startKafkaBroker,
  type KafkaBroker,
} from '../../tests/support/kafka-broker.js';
import { describeError, type CleanupStack } from './cleanup.js';

/** A running broker, or why the Kafka row is skipped. */
export type KafkaTarget =
  | { readonly available: true; readonly brokers: string[]; readonly version: string }
  | { readonly available: false; readonly reason: string };

/**
 * Starts a single-node broker when this machine can run one (Java, and Maven unless the jars are
 * cached). Never throws: a broker that cannot start only skips the Kafka row.
 */
export async function startKafka(cleanup: CleanupStack): Promise<KafkaTarget> {
  const check = await checkKafkaPrerequisites();
  if (!check.ok) return { available: false, reason: check.missing };
  let broker: KafkaBroker;
  try {
    broker = await startKafkaBroker();
  } catch (error) {
    return { available: false, reason: `the broker did not start: ${describeError(error)}` };
  }
  cleanup.defer('stop the Kafka broker', () => broker.destroy());
  return { available: true, brokers: broker.brokers, version: broker.version };
}

/**
 * Creates `topic` before the first timed run, so that no run pays for topic creation (the sink
 * would otherwise create it during the first one).
 */
export async function createTopic(brokers: readonly string[], topic: string): Promise<void> {
  const kafka = new kafkajs.Kafka({
    clientId: 'ficus-bench-admin',
    brokers: [...brokers],
    logLevel: kafkajs.logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1 }] });
  } finally {
    await admin.disconnect();
  }
}
