/**
 * A restart after a crash re-sends only the last moment's changes: the connector confirms what
 * the sink accepted within flushConfirmIntervalMs, so when `ficus cdc` is SIGKILLed, changes the
 * sink accepted more than a second earlier are not delivered again, and nothing is lost.
 * (It used to confirm only with the periodic status update, every 10 s: a connector killed
 * before that re-sent everything since it started.)
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnFicus, type FicusProcess } from '../support/cli.js';
import { uniqueName } from '../support/kafka.js';
import { startWriter, verifyDelivery, type ReceivedRecord } from './delivery.js';
import { createCdcDatabase, waitUntil, type CdcDatabase } from './harness.js';

/** A change event as the stdout sink prints it, with when this test read it. */
interface Arrival {
  readonly identity: string;
  readonly record: ReceivedRecord;
  readonly atMs: number;
}

/** Collects the records `cdc` prints on stdout (one JSON line each), timed on arrival. */
function collectRecords(cdc: FicusProcess, into: Arrival[]): void {
  let partial = '';
  cdc.child.stdout!.on('data', (chunk: Buffer) => {
    const atMs = performance.now();
    const lines = (partial + chunk.toString('utf8')).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.startsWith('{')) continue;
      const { topic, key, value } = JSON.parse(line) as {
        topic: string;
        key: unknown;
        value: { op?: string; source?: { lsn?: number } } | null;
      };
      if (!value?.op || value.op === 'r') continue;
      into.push({
        identity: `${topic}|${JSON.stringify(key)}|${value.source?.lsn}`,
        record: { topic, key: JSON.stringify(key), value: JSON.stringify(value) },
        atMs,
      });
    }
  });
}

describe('restart after a crash', () => {
  let db: CdcDatabase;
  let workDir: string;
  const running: FicusProcess[] = [];

  beforeAll(async () => {
    db = await createCdcDatabase();
    workDir = await mkdtemp(path.join(tmpdir(), 'ficus-replay-'));
  });
  afterAll(async () => {
    for (const child of running) child.child.kill('SIGKILL');
    await Promise.all(running.map((child) => child.exited));
    await db.cleanup();
    await rm(workDir, { recursive: true, force: true });
  });

  it('re-sends none of the changes the sink accepted more than a second before the SIGKILL, and loses none', async () => {
    const prefix = uniqueName('replay');
    await db.sql('CREATE TABLE events (id bigserial PRIMARY KEY, k int NOT NULL, v int NOT NULL)');
    await db.sql('CREATE TABLE counters (k int PRIMARY KEY, v int NOT NULL)');
    await db.sql('INSERT INTO counters SELECT g, 0 FROM generate_series(1, 10) g');
    const config = path.join(workDir, 'cdc.yaml');
    // No periodic status update during the test: only confirmations after the sink accepted
    // can move the slot.
    await writeFile(
      config,
      [
        `databaseUrl: ${db.url}`,
        `slotName: ${prefix.replaceAll('-', '_')}`,
        `topicPrefix: ${prefix}`,
        'tableIncludeList: [public.events, public.counters]',
        'signalTable: none',
        `offsetsFile: ${path.join(workDir, 'offsets.json')}`,
        'sink: stdout',
        'statusIntervalMs: 600000',
        'flushConfirmIntervalMs: 200',
        'statusPort: 0',
      ].join('\n'),
    );
    const arrivals: Arrival[] = [];
    const startCdc = async () => {
      const cdc = spawnFicus(['cdc', '--config', config]);
      running.push(cdc);
      collectRecords(cdc, arrivals);
      await cdc.waitFor(/streaming started/, 60_000);
      return cdc;
    };

    let cdc = await startCdc();
    const writer = startWriter(db.url, { keys: 10, pauseMs: 5 });
    // A burst of changes, accepted by the sink over a few seconds; the last ones just now.
    await waitUntil(
      () => arrivals.length >= 1_200,
      60_000,
      () => `${arrivals.length} records`,
    );
    const killedAt = performance.now();
    cdc.child.kill('SIGKILL');
    await cdc.exited;
    const beforeKill = arrivals.length;

    cdc = await startCdc();
    await writer.waitForCommits(writer.committed() + 100);
    const log = await writer.stop();
    await waitUntil(
      () =>
        verifyDelivery(
          log,
          arrivals.map((a) => a.record),
        ).missing === 0,
      60_000,
      () => `${arrivals.length} records`,
    );
    cdc.child.kill('SIGTERM');
    expect(await cdc.exited, cdc.output().slice(-3000)).toBe(0);

    const result = verifyDelivery(
      log,
      arrivals.map((a) => a.record),
    );
    expect(result.missingSample).toEqual([]);
    expect(result.outOfOrderKeys).toEqual([]);

    const firstArrival = new Map<string, number>();
    for (const arrival of arrivals.slice(0, beforeKill))
      if (!firstArrival.has(arrival.identity)) firstArrival.set(arrival.identity, arrival.atMs);
    const resent = arrivals
      .slice(beforeKill)
      .filter((arrival) => firstArrival.has(arrival.identity))
      .map((arrival) => Math.round(killedAt - firstArrival.get(arrival.identity)!));
    const acceptedLongBefore = [...firstArrival.values()].filter((at) => at < killedAt - 1_000);
    // The check below means something: most of the burst was accepted well before the kill.
    expect(acceptedLongBefore.length).toBeGreaterThan(500);
    // ms between first delivery and the kill, for every re-sent change: all under a second.
    expect(resent.filter((ms) => ms > 1_000)).toEqual([]);
  }, 180_000);
});
