import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import {
  CONNECTOR_DEFAULTS,
  createConnector,
  createEmbeddedSink,
  isChangeEventValue,
  type ChangeEventValue,
  type ChangeRecord,
  type Connector,
  type ConnectorOptions,
  type Sink,
} from '../../cdc/index.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';

/** A database of its own plus a client on it, for one CDC test file. */
export interface CdcDatabase extends TestDatabase {
  readonly client: pg.Client;
  sql(text: string, values?: unknown[]): Promise<pg.QueryResult>;
  /** Drops every replication slot on this database, then the database. */
  cleanup(): Promise<void>;
}

export async function createCdcDatabase(): Promise<CdcDatabase> {
  const database = await createTestDatabase('cdc');
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  return {
    ...database,
    client,
    sql: (text, values) => client.query(text, values),
    async cleanup() {
      await dropSlotsOf(client, database.name);
      await client.end();
      await database.drop();
    },
  };
}

async function dropSlotsOf(client: pg.Client, database: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const { rows } = await client.query<{ slot_name: string; active: boolean }>(
      'SELECT slot_name, active FROM pg_replication_slots WHERE database = $1',
      [database],
    );
    if (rows.length === 0) return;
    for (const row of rows) {
      if (!row.active)
        await client
          .query('SELECT pg_drop_replication_slot($1)', [row.slot_name])
          .catch(() => undefined);
    }
    if (Date.now() > deadline)
      throw new Error(
        `slots still active on ${database}: ${rows.map((r) => r.slot_name).join(', ')}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

let slotCounter = 0;

/** A connector on `url` with an embedded sink that collects every record. */
export interface TestConnector {
  readonly connector: Connector;
  /** What the built-in sink received (empty when the test passed a sink of its own). */
  readonly records: ChangeRecord[];
  readonly options: ConnectorOptions;
  /** Change events only (no tombstones, heartbeats or transaction records). */
  events(): ChangeEventValue[];
  /** Waits until `predicate` holds over the records. */
  waitFor(predicate: (records: ChangeRecord[]) => boolean, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startTestConnector(
  url: string,
  overrides: Partial<ConnectorOptions> = {},
): Promise<TestConnector> {
  const records: ChangeRecord[] = [];
  const offsetsDir = await mkdtemp(path.join(tmpdir(), 'ficus-cdc-'));
  const sink: Sink =
    overrides.sink ??
    createEmbeddedSink([
      (batch) => {
        records.push(...batch);
      },
    ]);
  const slotName = overrides.slotName ?? `test_slot_${process.pid}_${slotCounter++}`;
  const options: ConnectorOptions = {
    databaseUrl: url,
    slotName,
    publicationName: `pub_${slotName}`,
    tableIncludeList: [],
    columnExcludeList: [],
    topicPrefix: 'test',
    ...CONNECTOR_DEFAULTS,
    heartbeatIntervalMs: 0,
    offsetsFile: path.join(offsetsDir, 'offsets.json'),
    version: 'test',
    ...overrides,
    sink,
  };
  const connector = createConnector(options);
  try {
    await connector.start();
  } catch (error) {
    await rm(offsetsDir, { recursive: true, force: true });
    throw error;
  }

  return {
    connector,
    records,
    options,
    events: () => records.map((r) => r.value).filter(isChangeEventValue),
    waitFor: (predicate, timeoutMs = 10_000) =>
      waitUntil(
        () => predicate(records),
        timeoutMs,
        () => `${records.length} records`,
      ),
    async stop() {
      await connector.stop();
      await rm(offsetsDir, { recursive: true, force: true });
    },
  };
}

/** Polls `condition` every 20 ms until it holds, or fails after `timeoutMs` with `describe()`. */
export async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  describe: () => string = () => '',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline)
      throw new Error(`condition not met within ${timeoutMs} ms ${describe()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
