/**
 * CDC on an older server: the same scenario on the system's PostgreSQL 15 (FICUS_TEST_PG15_URL,
 * an admin URL; .ci/run sets it up with wal_level=logical) and on the embedded PostgreSQL 18 must
 * produce the same events, apart from positions, times and the database name.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isChangeEventValue, type ChangeRecord } from '../../cdc/index.js';
import { withDatabase } from '../support/postgres.js';
import { createCdcDatabase, startTestConnector, type CdcDatabase } from './harness.js';

const pg15AdminUrl = process.env.FICUS_TEST_PG15_URL;
if (!pg15AdminUrl && process.env.CI) {
  throw new Error('FICUS_TEST_PG15_URL must point at a PostgreSQL 15 server in CI (see .ci/run)');
}

/** Writes the same changes and returns what CDC made of them, without run-specific fields. */
async function scenario(url: string): Promise<unknown[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(`
    CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
    CREATE TABLE things (
      id int PRIMARY KEY, name text, price numeric(10,2), tags text[], data jsonb,
      born date, seen timestamptz, at timestamp, mood mood, blob bytea, flag boolean, uid uuid
    );
    INSERT INTO things VALUES
      (1, 'one', 1.50, '{a,b}', '{"k": 1}', '2020-02-29', '2024-01-02 03:04:05.123456+02', '2024-01-02 03:04:05', 'ok', '\\x0102', true,
       'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11');`);
  const cdc = await startTestConnector(url, { tableIncludeList: ['public.things'] });
  await client.query(`
    INSERT INTO things (id, name, price) VALUES (2, 'two', 2);
    UPDATE things SET name = 'uno', price = 1.75 WHERE id = 1;
    UPDATE things SET id = 20 WHERE id = 2;
    DELETE FROM things WHERE id = 20;
    TRUNCATE things;`);
  await cdc.waitFor((records) =>
    records.some((r) => isChangeEventValue(r.value) && r.value.op === 't'),
  );
  await cdc.stop();
  await client.end();
  return cdc.records.map(normalise);
}

function normalise(record: ChangeRecord): unknown {
  if (!isChangeEventValue(record.value))
    return { topic: record.topic, key: record.key, value: record.value, headers: record.headers };
  const { source, ts_ms: _ms, ts_us: _us, ts_ns: _ns, ...rest } = record.value;
  return {
    topic: record.topic,
    key: record.key,
    headers: record.headers,
    value: {
      ...rest,
      source: {
        schema: source.schema,
        table: source.table,
        snapshot: source.snapshot,
        connector: source.connector,
      },
    },
  };
}

describe.skipIf(!pg15AdminUrl)(
  `CDC on PostgreSQL 15${pg15AdminUrl ? '' : ' (skipped: set FICUS_TEST_PG15_URL to a PostgreSQL 15 admin URL)'}`,
  () => {
    let pg15Url: string;
    let pg15Name: string;
    let pg18: CdcDatabase;

    beforeAll(async () => {
      pg15Name = `cdc15_${randomBytes(5).toString('hex')}`;
      const admin = new pg.Client({ connectionString: pg15AdminUrl });
      await admin.connect();
      const { rows } = await admin.query<{ v: string }>(
        "SELECT current_setting('server_version_num') AS v",
      );
      expect(Number(rows[0]!.v)).toBeGreaterThanOrEqual(150000);
      expect(Number(rows[0]!.v)).toBeLessThan(160000);
      await admin.query(`CREATE DATABASE ${pg15Name}`);
      await admin.end();
      pg15Url = withDatabase(pg15AdminUrl!, pg15Name);
      pg18 = await createCdcDatabase();
    });
    afterAll(async () => {
      const admin = new pg.Client({ connectionString: pg15AdminUrl });
      await admin.connect();
      await admin.query(
        'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1 AND NOT active',
        [pg15Name],
      );
      await admin.query(`DROP DATABASE IF EXISTS ${pg15Name} WITH (FORCE)`);
      await admin.end();
      await pg18.cleanup();
    });

    it('emits the same events as on PostgreSQL 18', async () => {
      const [on15, on18] = await Promise.all([scenario(pg15Url), scenario(pg18.url)]);
      expect(on15).toHaveLength(9);
      expect(on15).toEqual(on18);
    });
  },
);
