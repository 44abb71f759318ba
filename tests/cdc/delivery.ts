/**
 * Tools for at-least-once tests: a writer that commits a steady stream of changes and remembers
 * what it committed, a Kafka reader, and a check that every committed change was delivered in
 * commit order per key.
 */
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { uniqueName } from '../support/kafka.js';
import { waitUntil } from './harness.js';

/** What the writer committed: the inserted event ids, and for each counter key the values it took. */
export interface WriterLog {
  commits: number;
  eventIds: Set<string>;
  counterValues: Map<number, number>;
}

/**
 * Commits, as fast as one connection allows (with a short pause), transactions that insert a row
 * into `events` and increment one row of `counters`.
 */
export function startWriter(url: string, options: { keys: number; pauseMs?: number }) {
  const log: WriterLog = { commits: 0, eventIds: new Set(), counterValues: new Map() };
  let running = true;
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  const loop = (async () => {
    await client.connect();
    let n = 0;
    while (running) {
      const k = (n++ % options.keys) + 1;
      await client.query('BEGIN');
      const counter = await client.query<{ v: number }>(
        'UPDATE counters SET v = v + 1 WHERE k = $1 RETURNING v',
        [k],
      );
      const v = counter.rows[0]!.v;
      const event = await client.query<{ id: string }>(
        'INSERT INTO events (k, v) VALUES ($1, $2) RETURNING id::text',
        [k, v],
      );
      await client.query('COMMIT');
      log.commits++;
      log.eventIds.add(event.rows[0]!.id);
      log.counterValues.set(k, v);
      if (options.pauseMs) await new Promise((resolve) => setTimeout(resolve, options.pauseMs));
      else if (n % 20 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    await client.end();
  })();
  loop.catch(() => undefined);
  return {
    committed: () => log.commits,
    waitForCommits: (count: number) =>
      waitUntil(
        () => log.commits >= count,
        60_000,
        () => `${log.commits} commits`,
      ),
    async stop(): Promise<WriterLog> {
      running = false;
      await loop;
      return log;
    },
  };
}

/** A record read back from Kafka. */
export interface ReceivedRecord {
  topic: string;
  key: string | null;
  value: string | null;
}

/**
 * Reads `topics` from the beginning with a fresh consumer group until `done(received)` holds or
 * `timeoutMs` passes; returns what it read either way, so the caller's assertions say what is
 * missing.
 */
export async function consumeAll(
  brokers: string[],
  topics: string[],
  done: (received: ReceivedRecord[]) => boolean,
  timeoutMs = 60_000,
): Promise<ReceivedRecord[]> {
  const kafka = new Kafka({ clientId: 'ficus-test-reader', brokers, logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: uniqueName('reader') });
  const received: ReceivedRecord[] = [];
  await waitForTopics(kafka, topics);
  await consumer.connect();
  try {
    for (const topic of topics) await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: ({ topic, message }) => {
        received.push({
          topic,
          key: message.key?.toString() ?? null,
          value: message.value?.toString() ?? null,
        });
        return Promise.resolve();
      },
    });
    await waitUntil(() => done(received), timeoutMs).catch(() => undefined);
  } finally {
    await consumer.disconnect();
  }
  return received;
}

interface Envelope {
  op: string;
  after: { id?: string | number; k: number; v: number } | null;
}

/**
 * Checks delivery against the writer's log: every inserted event present; for each counter key,
 * every value from 1 to the last committed one present, and first seen in increasing order.
 */
export function verifyDelivery(log: WriterLog, received: readonly ReceivedRecord[]) {
  const seenEvents = new Set<string>();
  const firstSeen = new Map<number, number[]>();
  const seenValues = new Map<number, Set<number>>();
  let duplicates = 0;
  for (const record of received) {
    if (record.value === null) continue;
    const envelope = JSON.parse(record.value) as Envelope;
    if (!envelope.after) continue;
    if (record.topic.endsWith('.events')) {
      const id = String(envelope.after.id);
      if (seenEvents.has(id)) duplicates++;
      seenEvents.add(id);
    } else if (envelope.op === 'u' || envelope.op === 'c' || envelope.op === 'r') {
      const { k, v } = envelope.after;
      const values = seenValues.get(k) ?? new Set<number>();
      seenValues.set(k, values);
      if (values.has(v)) {
        duplicates++;
        continue;
      }
      values.add(v);
      const order = firstSeen.get(k) ?? [];
      firstSeen.set(k, order);
      order.push(v);
    }
  }
  let missing = 0;
  const missingSample: string[] = [];
  const miss = (what: string) => {
    missing++;
    if (missingSample.length < 10) missingSample.push(what);
  };
  for (const id of log.eventIds) if (!seenEvents.has(id)) miss(`event ${id}`);
  const outOfOrderKeys: number[] = [];
  for (const [k, last] of log.counterValues) {
    const values = seenValues.get(k) ?? new Set<number>();
    for (let v = 1; v <= last; v++) if (!values.has(v)) miss(`counter ${k} = ${v}`);
    const order = (firstSeen.get(k) ?? []).filter((v) => v > 0);
    if (order.some((v, i) => i > 0 && v < order[i - 1]!)) outOfOrderKeys.push(k);
  }
  return { missing, missingSample, duplicates, outOfOrderKeys };
}

/** Waits until the broker serves metadata for every topic (a fresh topic can lag under load). */
export async function waitForTopics(kafka: Kafka, topics: string[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await waitUntil(
      () =>
        admin.fetchTopicMetadata({ topics }).then(
          (metadata) =>
            metadata.topics.every((topic) => topic.partitions.every((p) => p.leader >= 0)),
          () => false,
        ),
      30_000,
      () => `topics ${topics.join(', ')} not served`,
    );
  } finally {
    await admin.disconnect();
  }
}
