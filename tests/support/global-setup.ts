import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres, THROWAWAY_SETTINGS } from '../../common/index.js';
import { checkKafkaPrerequisites, startKafkaBroker, type KafkaBroker } from './kafka-broker.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Admin URL of the Postgres cluster the tests share (embedded, or DATABASE_URL). */
    postgresUrl: string;
    /** Bootstrap addresses of the shared Kafka broker; empty when Kafka is unavailable. */
    kafkaBrokers: string[];
    /** Why Kafka is unavailable (only when kafkaBrokers is empty). */
    kafkaUnavailable: string;
  }
}

/**
 * Starts the servers every integration test shares, once per `npm test`: a real Postgres
 * (embedded, or the server at DATABASE_URL) and a real Kafka broker. Each test then makes its own
 * database (see ./postgres.ts) and its own topics and consumer groups (see ./kafka.ts).
 *
 * Without Java or Maven, Kafka tests are skipped with a message saying what is missing; with CI
 * set, that is an error instead.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const [stopPostgres, kafka] = await Promise.all([startPostgres(project), startKafka(project)]);
  return async () => {
    await Promise.all([stopPostgres(), kafka?.stop()]);
  };
}

async function startPostgres(project: TestProject): Promise<() => Promise<void>> {
  const external = process.env.DATABASE_URL;
  if (external) {
    project.provide('postgresUrl', external);
    return () => Promise.resolve();
  }
  const workDir = await mkdtemp(path.join(tmpdir(), 'ficus-test-'));
  // Running as root, Postgres runs as the postgres user, which must reach the data directory.
  await chmod(workDir, 0o755);
  const postgres = await startEmbeddedPostgres({
    dataDir: path.join(workDir, 'postgres'),
    ephemeral: true,
    settings: { ...THROWAWAY_SETTINGS, max_connections: '400' },
  });
  project.provide('postgresUrl', postgres.url);
  return async () => {
    await postgres.stop();
    await rm(workDir, { recursive: true, force: true });
  };
}

async function startKafka(project: TestProject): Promise<KafkaBroker | undefined> {
  project.provide('kafkaBrokers', []);
  project.provide('kafkaUnavailable', '');
  const check = await checkKafkaPrerequisites();
  if (!check.ok) {
    if (process.env.CI) {
      throw new Error(`Kafka tests must run in CI, but the broker cannot start: ${check.missing}`);
    }
    project.provide('kafkaUnavailable', check.missing);
    process.stderr.write(`\nKafka tests are skipped: ${check.missing}\n\n`);
    return undefined;
  }
  const broker = await startKafkaBroker();
  project.provide('kafkaBrokers', broker.brokers);
  if (process.env.FICUS_TEST_VERBOSE) {
    process.stderr.write(`Kafka ${broker.version} broker ready in ${broker.startedInMs} ms\n`);
  }
  return broker;
}
