/**
 * Each setup problem stops the connector with one line that names the fix.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres } from '../../common/index.js';
import { createCdcDatabase, startTestConnector, type CdcDatabase } from './harness.js';

let db: CdcDatabase;
beforeAll(async () => {
  db = await createCdcDatabase();
  await db.sql('CREATE TABLE a (id int PRIMARY KEY)');
  await db.sql('CREATE TABLE b (id int PRIMARY KEY)');
});
afterAll(() => db.cleanup());

function expectSetupError(promise: Promise<unknown>, code: string, message: RegExp) {
  return expect(promise).rejects.toMatchObject({
    code,
    message: expect.stringMatching(message) as unknown,
  });
}

describe('CDC setup errors', () => {
  it('names the setting to change when wal_level is not logical', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'ficus-wal-'));
    await chmod(dir, 0o755);
    const server = await startEmbeddedPostgres({
      dataDir: path.join(dir, 'data'),
      ephemeral: true,
      settings: { wal_level: 'replica' },
    });
    try {
      await expectSetupError(
        startTestConnector(server.url),
        'FICUS_CDC_WAL_LEVEL',
        /^wal_level is 'replica' but logical replication needs 'logical': run ALTER SYSTEM SET wal_level = logical .* and restart Postgres$/,
      );
    } finally {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('names the missing REPLICATION attribute', async () => {
    const role = `plain_${process.pid}`;
    await db.sql(`CREATE ROLE ${role} LOGIN PASSWORD 'secret'`);
    try {
      const url = new URL(db.url);
      url.username = role;
      url.password = 'secret';
      await expectSetupError(
        startTestConnector(url.toString()),
        'FICUS_CDC_REPLICATION_PRIVILEGE',
        new RegExp(
          `^user '${role}' may not use replication: run ALTER ROLE "${role}" WITH REPLICATION`,
        ),
      );
    } finally {
      await db.sql(`DROP ROLE ${role}`);
    }
  });

  it('says who must create the publication when the role may not', async () => {
    const role = `replicator_${process.pid}`;
    await db.sql(`CREATE ROLE ${role} LOGIN REPLICATION PASSWORD 'secret'`);
    await db.sql(`GRANT SELECT ON a TO ${role}`);
    try {
      const url = new URL(db.url);
      url.username = role;
      url.password = 'secret';
      await expectSetupError(
        startTestConnector(url.toString(), { tableIncludeList: ['public.a'], signalTable: null }),
        'FICUS_CDC_PUBLICATION_PRIVILEGE',
        /^cannot create publication 'pub_test_slot_\d+_\d+': permission denied .*run CREATE PUBLICATION "pub_test_slot_\d+_\d+" FOR TABLE "public"\."a" as the owner, then start again$/,
      );
    } finally {
      await db.sql(`REVOKE ALL ON a FROM ${role}`);
      await db.sql(`DROP ROLE ${role}`);
    }
  });

  it('refuses a slot another connector is streaming from', async () => {
    const first = await startTestConnector(db.url, { tableIncludeList: ['public.a'] });
    try {
      await expectSetupError(
        startTestConnector(db.url, {
          tableIncludeList: ['public.a'],
          slotName: first.options.slotName,
          publicationName: first.options.publicationName,
        }),
        'FICUS_CDC_SLOT_IN_USE',
        new RegExp(
          `^replication slot '${first.options.slotName}' is in use by another process \\(pid \\d+\\)`,
        ),
      );
    } finally {
      await first.stop();
    }
  });

  it('names the ALTER PUBLICATION that adds a missing table', async () => {
    await db.sql('CREATE PUBLICATION only_a FOR TABLE a');
    await expectSetupError(
      startTestConnector(db.url, {
        tableIncludeList: ['public.a', 'public.b'],
        publicationName: 'only_a',
      }),
      'FICUS_CDC_PUBLICATION_TABLES',
      /^publication 'only_a' does not include public\.b: run ALTER PUBLICATION "only_a" ADD TABLE "public"\."b"$/,
    );
  });

  it('names a table in the include list that does not exist', async () => {
    await expectSetupError(
      startTestConnector(db.url, { tableIncludeList: ['public.a', 'public.nope'] }),
      'FICUS_CDC_TABLE_MISSING',
      /^table public\.nope in the table include list does not exist/,
    );
  });

  it('says when the source cannot be reached', async () => {
    await expectSetupError(
      startTestConnector('postgres://ficus:ficus@127.0.0.1:1/none'),
      'FICUS_CDC_SOURCE_UNREACHABLE',
      /^cannot connect to the source database: connect ECONNREFUSED 127\.0\.0\.1:1$/,
    );
  });

  it('leaves no replication connection behind after a failed start', async () => {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    const { rows } = await client.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'walsender' AND datname = $1",
      [db.name],
    );
    await client.end();
    expect(rows[0]?.n).toBe(0);
  });
});
