/**
 * docs/extract-your-first-table.md, followed as a reader follows it, after the first guide
 * (docs/front-your-monolith.md, up to its Kafka section) on the same reader system: a service
 * written in the reader's own project folder, outside the ficus source tree, importing only the
 * package entry point (`ficus`), run with the installed `ficus service --module`, carried through
 * its snapshot and live changes, reconciled with `ficus reconcile`, shadowed, moved to new, and
 * torn down with `--teardown`, all through the real CLI built in dist/.
 *
 * What the test supplies instead of the reader's system: see ./reader.ts (values of the `sh env`
 * blocks, free ports through FICUS_*_PORT, the app's and the service's addresses in routes.yaml),
 * and between blocks (`hooks`): the readiness lines, and Ctrl-C on the service before teardown,
 * where it first checks that teardown refuses while the service still streams.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitUntil } from '../cdc/harness.js';
import {
  followGuide,
  guideCommands,
  guideEnvNames,
  guideFiles,
  runStep,
  type BackgroundStep,
  type FollowedGuide,
} from './guide.js';
import { frontGuideReadiness, repoRoot, startReaderSystem, type ReaderSystem } from './reader.js';

const front = await readFile(path.join(repoRoot, 'docs/front-your-monolith.md'), 'utf8');
const guide = await readFile(path.join(repoRoot, 'docs/extract-your-first-table.md'), 'utf8');

let reader: ReaderSystem;
let followed: FollowedGuide;
/** `--teardown` while the service still ran. */
let refusedTeardown: { code: number; output: string } | undefined;
/** Slots on the monolith's database just before the service was stopped. */
let slotsWhileRunning: string[] = [];
/** While the service ran: its row counts, and the requests it answered unlike the monolith. */
let whileRunning: { counts: unknown; differing: string[]; compared: number } | undefined;
/** Once the route is on new: what the gateway and the monolith answer for a book whose copy was edited. */
let onNew: { gateway: unknown; monolith: unknown; liveChange: boolean } | undefined;

const resultOf = (pattern: RegExp) => followed.resultOf(pattern);

async function slotNames(): Promise<string[]> {
  const client = new pg.Client({ connectionString: reader.db.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ slot_name: string }>(
      'SELECT slot_name FROM pg_replication_slots WHERE database = current_database() ORDER BY 1',
    );
    return rows.map((row) => row.slot_name);
  } finally {
    await client.end();
  }
}

async function withBooksDb<T>(run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: reader.readerValues.BOOKS_DATABASE_URL });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

async function answer(url: string): Promise<{ status: number; body: string }> {
  const response = await fetch(url);
  return { status: response.status, body: await response.text() };
}

beforeAll(async () => {
  reader = await startReaderSystem('extract_guide');
  const { project: cwd, env, readerValues, fileSubstitutions, running } = reader;
  await followGuide(front, {
    cwd,
    env,
    readerValues,
    fileSubstitutions,
    running,
    hooks: frontGuideReadiness(),
    stopAt: (step) => (step.vars.has('KAFKA_BROKERS') ? 'the Kafka section' : undefined),
  });
  followed = await followGuide(guide, {
    cwd,
    env,
    readerValues,
    fileSubstitutions,
    running,
    hooks: [
      {
        // Reconciled: the service also answers as the monolith does, for every book and error.
        match: /npx ficus reconcile --module/,
        after: async () => {
          const counts = await withBooksDb(async (client) => {
            const { rows } = await client.query<{ authors: string; books: string }>(
              'SELECT (SELECT count(*) FROM authors) AS authors, (SELECT count(*) FROM books) AS books',
            );
            return rows[0];
          });
          const ids = [...Array.from({ length: 40 }, (_, i) => String(i + 1)), 'bad', '0', '9999'];
          const differing: string[] = [];
          for (const id of ids) {
            const [monolith, service] = await Promise.all([
              answer(`${reader.app.url}/books/${id}`),
              answer(`${reader.readerValues.BOOKS_URL}/books/${id}`),
            ]);
            if (JSON.stringify(service) !== JSON.stringify(monolith)) differing.push(id);
          }
          whileRunning = { counts, differing, compared: ids.length };
        },
      },
      {
        match: /npx ficus service --module \.\/books\.ts --database-url/,
        after: async (service) => {
          await (service as BackgroundStep).waitFor(/books service listening/);
        },
      },
      {
        // With the route on new, the gateway serves the service's own copy: edit it behind the
        // service's back and see it through the gateway; then a monolith change reaching it.
        match: /--mode new --reason/,
        after: async () => {
          await withBooksDb((client) =>
            client.query(`UPDATE books SET title = 'only in the copy' WHERE id = 8`),
          );
          const gateway = JSON.parse(
            (await answer(`${reader.gatewayUrl}/books/8`)).body,
          ) as unknown;
          const monolith = JSON.parse((await answer(`${reader.app.url}/books/8`)).body) as unknown;
          const client = new pg.Client({ connectionString: reader.db.url });
          await client.connect();
          await client.query(`UPDATE books SET price = 33.25 WHERE id = 9`);
          await client.end();
          let liveChange = false;
          await waitUntil(async () => {
            const book = JSON.parse((await answer(`${reader.gatewayUrl}/books/9`)).body) as {
              price?: string;
            };
            return (liveChange = book.price === '33.25');
          }, 10_000).catch(() => undefined);
          onNew = { gateway, monolith, liveChange };
        },
      },
      {
        // "Stop the service (Ctrl-C), then" tear down; first, teardown while it still runs.
        match: /--teardown/,
        before: async () => {
          const block = guideCommands(guide).find((b) => b.lines.some((l) => /--teardown/.test(l)));
          const early = await runStep(block!, { cwd, env });
          refusedTeardown = { code: early.code, output: early.stdout + early.stderr };
          slotsWhileRunning = await slotNames();
          const service = running.find((step) =>
            step.block.lines.some((line) => line.includes('--module ./books.ts')),
          );
          await service!.stop('SIGINT');
        },
      },
    ],
  });
}, 300_000);

afterAll(async () => {
  await reader?.stop();
});

describe('docs/extract-your-first-table.md', () => {
  it('has the steps this test follows', () => {
    expect(guideFiles(guide).map((file) => file.path)).toEqual(['books.ts', 'routes.yaml']);
    const commands = guideCommands(guide);
    expect(commands.filter((block) => block.background)).toHaveLength(1);
    expect(commands.filter((block) => block.eventually).length).toBeGreaterThanOrEqual(3);
    expect(commands.length).toBeGreaterThanOrEqual(10);
    expect(guideEnvNames(guide)).toEqual(['BOOKS_DATABASE_URL', 'BOOKS_URL']);
    expect(front).toContain('](extract-your-first-table.md)');
  });

  it("writes the service in the reader's project, importing only the package entry point", async () => {
    const source = await readFile(path.join(reader.project, 'books.ts'), 'utf8');
    const imports = [...source.matchAll(/from '([^']+)'/g)].map((match) => match[1]);
    expect(imports).toEqual(['ficus']);
    expect(path.relative(repoRoot, reader.project)).toMatch(/^\.\./);
  });

  it('typechecks against the types the package publishes', async () => {
    const tsc = path.join(repoRoot, 'node_modules/typescript/bin/tsc');
    const result = await new Promise<{ code: number | null; output: string }>((resolve) => {
      const child = spawn(
        process.execPath,
        [
          tsc,
          '--noEmit',
          '--strict',
          '--module',
          'nodenext',
          '--moduleResolution',
          'nodenext',
          '--target',
          'es2022',
          '--skipLibCheck',
          'books.ts',
        ],
        { cwd: reader.project },
      );
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.on('exit', (code) => resolve({ code, output }));
    });
    expect(result.output).toBe('');
    expect(result.code).toBe(0);
  });

  it('carries both tables and answers GET /books/:id byte for byte as the monolith', () => {
    expect(whileRunning).toEqual({
      counts: { authors: '5', books: '40' },
      differing: [],
      compared: 43,
    });
    expect(resultOf(/diff <\(curl -s "\$MONOLITH_URL\/books\/12"\)/)?.stdout.trim()).toBe('same');
  });

  it('reconciles in sync through the installed CLI', () => {
    const output = resultOf(/npx ficus reconcile --module/)?.stdout ?? '';
    expect(output).toMatch(/^books: in sync \(2 tables, \d+ ms\)$/m);
    expect(output).toMatch(/^ {2}authors +public\.authors +5 +5 +0 +0 +0$/m);
    expect(output).toMatch(/^ {2}books +public\.books +40 +40 +0 +0 +0$/m);
  });

  it('shadowed the route with every comparison matching, a live change included', async () => {
    const stats = (await (
      await fetch(`${reader.gatewayUrl}/_ficus/api/stats`, {
        headers: { authorization: `Bearer ${reader.adminToken}` },
      })
    ).json()) as { routes: { id: string; mode: string; shadow: { matches: number } }[] };
    const detail = stats.routes.find((route) => route.id === 'book-detail');
    expect(detail).toMatchObject({ mode: 'new', shadow: { matches: 20, mismatches: 0 } });
  });

  it('moved the route to new: the service answers through the gateway, and changes keep flowing', () => {
    const output = resultOf(/curl -s "\$FICUS_GATEWAY_URL\/books\/7"$/)?.stdout.trim() ?? '';
    expect(output).toMatch(/^route book-detail changed: now version \d+$/m);
    const shown = JSON.parse(output.split('\n').at(-1) ?? '{}') as unknown;
    expect(shown).toMatchObject({ id: 7, price: '21.50' });
    expect(onNew?.gateway).toMatchObject({ id: 8, title: 'only in the copy' });
    expect(onNew?.monolith).toMatchObject({ id: 8 });
    expect(onNew?.monolith).not.toMatchObject({ title: 'only in the copy' });
    expect(onNew?.liveChange).toBe(true);
  });

  it('refuses to tear down while the service streams, then drops its slot', async () => {
    expect(slotsWhileRunning).toEqual(['ficus', 'ficus_books']);
    expect(refusedTeardown?.code).toBe(1);
    expect(refusedTeardown?.output).toMatch(/ficus_books.*active.*pid \d+/);
    const teardown = resultOf(/--teardown/)?.stdout ?? '';
    expect(teardown).toContain('books: dropped replication slot ficus_books');
    expect(teardown).toContain('books: deleted offsets file');
    expect(teardown).toContain('publication ficus_books was not created by ficus and stays');
    expect(await slotNames()).toEqual(['ficus']);
    const slots = resultOf(/npx ficus cdc slots/)?.stdout ?? '';
    expect(slots).toMatch(/^ficus\s/m);
    expect(slots).not.toContain('ficus_books');
  });
});
