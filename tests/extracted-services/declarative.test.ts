/**
 * A service declared in YAML (plain copies, no code), run and reconciled through the ficus CLI:
 * local tables made with the monolith's column types, temporal values converted, enums as text,
 * live changes followed, reconciliation in sync. Files a plain copy cannot serve are refused with
 * the field named.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadServiceModule } from '../../index.js';
import { createCdcDatabase, waitUntil, type CdcDatabase } from '../cdc/harness.js';
import { spawnFicus, type FicusProcess } from '../support/cli.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';

const SERVICE = `name: wishes
port: 3199
tables:
  - source: public.wishes
    table: member_wishes
    key: [member_id, product_id]
    columns: [member_id, product_id, note, status, added_on, seen_at, created_at, price]
  - source: public.members
    key: [id]
    columns: { id: integer, name: text }
`;

let source: CdcDatabase;
let own: TestDatabase;
let dir: string;
let service: FicusProcess;
let ownDb: pg.Client;

async function query<T extends pg.QueryResultRow>(sql: string): Promise<T[]> {
  return (await ownDb.query<T>(sql)).rows;
}

beforeAll(async () => {
  source = await createCdcDatabase();
  await source.sql(`CREATE TYPE wish_status AS ENUM ('open', 'bought')`);
  await source.sql(`CREATE TABLE wishes (
    member_id int, product_id int, note text, status wish_status NOT NULL DEFAULT 'open',
    added_on date, seen_at timestamp(3), created_at timestamptz NOT NULL DEFAULT now(),
    price numeric(8,2), secret bytea, PRIMARY KEY (member_id, product_id))`);
  await source.sql(`CREATE TABLE members (id int PRIMARY KEY, name text NOT NULL, email text)`);
  await source.sql(`INSERT INTO members SELECT m, 'member ' || m, m || '@example.com'
    FROM generate_series(1, 3) m`);
  await source.sql(`INSERT INTO wishes (member_id, product_id, note, added_on, seen_at, price)
    SELECT m, p, 'note ' || p, DATE '2026-01-01' + p, TIMESTAMP '2026-02-03 04:05:06.789' + p * INTERVAL '1 day', p * 2.5
      FROM generate_series(1, 3) m, generate_series(1, 5) p`);
  own = await createTestDatabase('declarative');
  ownDb = new pg.Client({ connectionString: own.url });
  await ownDb.connect();
  dir = await mkdtemp(path.join(tmpdir(), 'ficus-declarative-'));
  await writeFile(path.join(dir, 'wishes.yaml'), SERVICE);
  service = spawnFicus([
    'service',
    '--module',
    path.join(dir, 'wishes.yaml'),
    '--database-url',
    own.url,
    '--source-database-url',
    source.url,
    '--slot',
    `declarative_${process.pid}`,
    '--offsets-file',
    path.join(dir, 'offsets.json'),
    '--port',
    '0',
  ]);
  await service.waitFor(/"msg":"wishes service listening"/);
  await waitUntil(
    async () =>
      (await query<{ n: string }>('SELECT count(*) AS n FROM member_wishes'))[0]?.n === '15',
    20_000,
  );
});

afterAll(async () => {
  service?.child.kill('SIGTERM');
  await service?.exited;
  await ownDb?.end();
  await own?.drop();
  await source?.cleanup();
  await rm(dir, { recursive: true, force: true });
});

describe('a YAML service of plain copies', () => {
  it("makes its tables with the monolith's column types, an enum as text", async () => {
    const columns = await query<{ table_name: string; column_name: string; type: string }>(
      `SELECT table_name, column_name, format_type(atttypid, atttypmod) AS type
         FROM information_schema.columns c
         JOIN pg_attribute a ON a.attrelid = (quote_ident(c.table_name))::regclass AND a.attname = c.column_name
        WHERE table_schema = 'public' AND table_name IN ('member_wishes', 'members')
        ORDER BY table_name, ordinal_position`,
    );
    expect(columns.map((c) => `${c.table_name}.${c.column_name} ${c.type}`)).toEqual([
      'member_wishes.member_id integer',
      'member_wishes.product_id integer',
      'member_wishes.note text',
      'member_wishes.status text',
      'member_wishes.added_on date',
      'member_wishes.seen_at timestamp(3) without time zone',
      'member_wishes.created_at timestamp with time zone',
      'member_wishes.price numeric(8,2)',
      'members.id integer',
      'members.name text',
    ]);
  });

  it('carries the values exactly, and follows live changes', async () => {
    await source.sql(
      `UPDATE wishes SET status = 'bought', seen_at = NULL WHERE member_id = 2 AND product_id = 3`,
    );
    await source.sql(`DELETE FROM wishes WHERE member_id = 3`);
    await source.sql(`INSERT INTO members VALUES (4, 'member 4', NULL)`);
    await waitUntil(
      async () =>
        (await query<{ n: string }>('SELECT count(*) AS n FROM member_wishes'))[0]?.n === '10',
      10_000,
    );
    await waitUntil(
      async () => (await query<{ n: string }>('SELECT count(*) AS n FROM members'))[0]?.n === '4',
      10_000,
    );
    const row = await query(
      `SELECT status, added_on::text, seen_at::text, price::text FROM member_wishes WHERE member_id = 1 AND product_id = 2`,
    );
    expect(row).toEqual([
      { status: 'open', added_on: '2026-01-03', seen_at: '2026-02-05 04:05:06.789', price: '5.00' },
    ]);
  });

  it('is reconciled in sync by ficus reconcile --module, through the service and directly', async () => {
    const status = (await (
      await fetch(`${(await service.waitFor(/"url":"(http:\/\/[^"]+)"/))[1]}/_ficus/status`)
    ).json()) as { service: string };
    expect(status.service).toBe('wishes');
    const url = (await service.waitFor(/"url":"(http:\/\/[^"]+)"/))[1]!;
    const viaService = spawnFicus([
      'reconcile',
      '--module',
      path.join(dir, 'wishes.yaml'),
      '--service-url',
      url,
      '--settle-ms',
      '0',
    ]);
    expect(await viaService.exited).toBe(0);
    expect(viaService.output()).toMatch(/^wishes: in sync \(2 tables/m);
    const direct = spawnFicus(
      ['reconcile', '--module', path.join(dir, 'wishes.yaml'), '--settle-ms', '0'],
      { DATABASE_URL: own.url, FICUS_SOURCE_DATABASE_URL: source.url },
    );
    expect(await direct.exited).toBe(0);
    expect(direct.output()).toMatch(/member_wishes +public\.wishes +10 +10 +0 +0 +0/);
  });
});

describe('a YAML service file that cannot be served', () => {
  const load = async (text: string, sourceDatabaseUrl?: string) => {
    const file = path.join(dir, `bad-${Math.random().toString(36).slice(2)}.yaml`);
    await writeFile(file, text);
    return loadServiceModule(file, { sourceDatabaseUrl });
  };
  const table = (columns: string) =>
    `name: bad\nport: 3199\ntables:\n  - source: public.wishes\n    key: [member_id, product_id]\n    columns: ${columns}\n`;

  it.each([
    [
      'a bytea column',
      table('[member_id, product_id, secret]'),
      true,
      /tables\.0\.columns\.secret: a plain copy cannot carry bytea exactly/,
    ],
    [
      'a column the table lacks',
      table('[member_id, product_id, colour]'),
      true,
      /tables\.0\.columns: public\.wishes has no column colour; it has member_id, /,
    ],
    [
      'a key column left out',
      table('[member_id, note]'),
      true,
      /tables\.0\.key: product_id is not among the kept columns/,
    ],
    [
      'names without types and no monolith to read them from',
      table('[member_id, product_id]'),
      false,
      /tables\.0\.columns: a list of names takes its types from the monolith; set FICUS_SOURCE_DATABASE_URL/,
    ],
    [
      'an unknown field',
      table('[member_id, product_id]').replace('port:', 'colour: red\nport:'),
      true,
      /^[^:]+\.yaml: unknown field colour; the fields are name, summary, port, tables$/,
    ],
    [
      'a name with upper case',
      'name: Bad\nport: 3199\ntables: []\n',
      false,
      /^[^:]+\.yaml: name must start with a lower-case letter/,
    ],
  ])('refuses %s', async (_, text, withSource, message) => {
    await expect(load(text, withSource ? source.url : undefined)).rejects.toThrow(message);
  });
});
