import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { inject } from 'vitest';

/** Bootstrap addresses of the shared test broker, or undefined when Kafka is unavailable. */
export function kafkaBrokers(): string[] | undefined {
  const brokers = inject('kafkaBrokers');
  return brokers.length > 0 ? brokers : undefined;
}

/** Why Kafka tests are skipped (empty when they run). */
export function kafkaSkipReason(): string {
  return inject('kafkaUnavailable');
}

/** A kafkajs client for the shared broker (quiet logs). */
export function testKafka(brokers: string[]): Kafka {
  return new Kafka({ clientId: 'ficus-test', brokers, logLevel: logLevel.NOTHING });
}

/** A unique name for a topic or consumer group, so tests never share one. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(5).toString('hex')}`;
}
