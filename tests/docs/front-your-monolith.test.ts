/**
 * docs/front-your-monolith.md, followed as a reader follows it: in a fresh project folder, against
 * a library-lending app of its own (./library-app.ts) on a database of its own, every file written
 * and every command run exactly as the guide has them (./guide.ts reads them). Then what the guide
 * promises is checked: the gateway answers as the app does, the routes are listed, the connector
 * captures the tables and a loan made through the gateway becomes an event, the dashboard signs in
 * and shows the connector, and the events reach Kafka after the switch.
 *
 * What the test supplies instead of the reader's system:
 * - the values of the guide's `sh env` blocks (below, `readerValues`), each from its block on;
 * - free ports through FICUS_GATEWAY_PORT and FICUS_CDC_STATUS_PORT (the guide's defaults, 8080 and
 *   3200, would collide with other tests);
 * - in routes.yaml, the app's address for the guide's `http://127.0.0.1:3000` (`fileSubstitutions`);
 * - what the reader does between blocks (`hooks`): waiting for the log line the guide names,
 *   pressing Ctrl-C.
 * Without a Kafka broker (no Java or Maven, and CI unset), the guide is followed up to its Kafka
 * section.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { waitUntil } from '../cdc/harness.js';
import { kafkaBrokers, testKafka, uniqueName } from '../support/kafka.js';
import type { TestDatabase } from '../support/postgres.js';
import {
  followGuide,
  guideCommands,
  guideEnvNames,
  guideFiles,
  type BackgroundStep,
  type FollowedGuide,
  type GuideHook,
} from './guide.js';
import type { LibraryApp } from './library-app.js';
import { frontGuideReadiness, repoRoot, startReaderSystem, type ReaderSystem } from './reader.js';

const guide = await readFile(path.join(repoRoot, 'docs/front-your-monolith.md'), 'utf8');
const SLOT = 'ficus';
const BORROWER = 'Hedy Lamarr';

interface CdcStatus {
  state: string;
  sink: string;
  slot: string;
  tables: Record<string, Record<string, number>>;
}

let reader: ReaderSystem | undefined;
let db: TestDatabase;
let app: LibraryApp;
let project: string;
let gatewayUrl: string;
let statusUrl: string;
let adminToken: string;
let brokers: string[] | undefined;
/** Finished foreground blocks, in order. */
let followed: FollowedGuide | undefined;
/** The dashboard's data-sync view while the stdout connector ran (section 7). */
let syncWithStdout: unknown;

const resultOf = (pattern: RegExp) => followed?.resultOf(pattern);

async function json<T>(url: string, init?: RequestInit): Promise<T> {
  const response = await fetch(url, init);
  expect(response.status, `${url}: ${response.status}`).toBe(200);
  return (await response.json()) as T;
}

/** Signs in to the dashboard as a browser does and reads its data-sync view. */
async function dashboardSync(): Promise<{
  cdc: { url: string; available: boolean; status?: CdcStatus } | null;
}> {
  const signIn = await fetch(`${gatewayUrl}/_ficus/api/session`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ actor: 'reader' }),
  });
  expect(signIn.status).toBe(200);
  const cookie = signIn.headers.getSetCookie().find((c) => c.startsWith('ficus_session='));
  expect(cookie).toBeDefined();
  return json(`${gatewayUrl}/_ficus/api/sync`, { headers: { cookie: cookie!.split(';')[0]! } });
}

beforeAll(async () => {
  reader = await startReaderSystem('front_guide');
  ({ db, app, project, gatewayUrl, statusUrl, adminToken, brokers } = reader);
  const { env, readerValues, fileSubstitutions, running } = reader;

  const hooks: GuideHook[] = [
    ...frontGuideReadiness(),
    {
      // Section 7 says Data sync shows the connector: read it as the page does, while it runs.
      match: /npx ficus routes list/,
      after: async () => {
        await waitUntil(async () => (await dashboardSync()).cdc?.available === true);
        syncWithStdout = await dashboardSync();
      },
    },
    {
      // "Stop the connector (Ctrl-C)" before the slot can be dropped.
      match: /pg_drop_replication_slot/,
      optional: true,
      before: async () => {
        const stdoutCdc = running.find((step) =>
          step.block.lines.some((line) => line.includes('changes.jsonl')),
        );
        await stdoutCdc!.stop('SIGINT');
      },
    },
    {
      match: /npx ficus cdc .*--kafka-brokers/,
      optional: true,
      after: async (cdc) => {
        await (cdc as BackgroundStep).waitFor(/streaming started/);
      },
    },
  ];
  followed = await followGuide(guide, {
    cwd: project,
    env,
    readerValues,
    fileSubstitutions,
    hooks,
    running,
    stopAt: (step) => {
      if (!step.vars.has('KAFKA_BROKERS') || brokers) return undefined;
      const why = `line ${step.line}: no Kafka broker for the tests`;
      console.warn(`docs/front-your-monolith.md is followed up to ${why}`);
      return why;
    },
  });
}, 300_000);

afterAll(async () => {
  await reader?.stop();
});

describe('docs/front-your-monolith.md', () => {
  it('has the steps this test follows', () => {
    expect(guideFiles(guide).map((file) => file.path)).toEqual(['routes.yaml']);
    const commands = guideCommands(guide);
    expect(commands.length).toBeGreaterThanOrEqual(10);
    expect(commands.filter((block) => block.background)).toHaveLength(3);
    expect(commands.filter((block) => block.eventually).length).toBeGreaterThanOrEqual(1);
    expect(guideEnvNames(guide)).toContain('FICUS_ADMIN_TOKEN');
    expect(guide).toContain('](extract-your-first-table.md)');
  });

  it('installs ficus into the project as a link to the checkout', async () => {
    const manifest = JSON.parse(await readFile(path.join(project, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    expect(manifest.dependencies.ficus).toMatch(/^file:/);
    expect(resultOf(/npx ficus --help/)?.stdout).toMatch(/Usage: ficus <command>/);
  });

  it('puts the gateway in front of the app: same answers, byte for byte', async () => {
    expect(resultOf(/diff </)?.stdout.trim()).toBe('same');
    for (const target of [
      '/books/1',
      '/books?limit=5&offset=3',
      '/books/999',
      '/books/x',
      '/health',
    ]) {
      const [direct, through] = await Promise.all(
        [app.url, gatewayUrl].map(async (base) => {
          const response = await fetch(`${base}${target}`);
          return { status: response.status, body: await response.text() };
        }),
      );
      expect(through, target).toEqual(direct);
    }
    expect(JSON.parse(await (await fetch(`${gatewayUrl}/books/999`)).text())).toEqual({
      error: 'book not found',
    });
    expect(await json(`${gatewayUrl}/books/7`)).toEqual({
      id: 7,
      isbn: '978-0-000007',
      title: 'The Last Harbour',
      author: { id: 2, name: 'Octavia E. Butler' },
      publishedOn: null,
      price: '24.75',
    });
    const again = await fetch(`${gatewayUrl}/loans`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ bookId: 7, borrower: 'someone else' }),
    });
    expect(again.status).toBe(409);
    expect(await again.json()).toEqual({ error: 'book is already lent' });
    expect(await json(`${gatewayUrl}/_ficus/health`)).toMatchObject({ status: 'ok' });
    expect(resultOf(/_ficus\/health/)?.stdout).toContain('ok');
  });

  it('lists the routes of the guide’s routes.yaml, all on legacy', () => {
    const table = parseYaml(guideFiles(guide)[0]!.content) as { routes: { id: string }[] };
    const output = resultOf(/npx ficus routes list/)?.stdout ?? '';
    expect(table.routes.length).toBe(4);
    for (const { id } of table.routes) expect(output).toMatch(new RegExp(`${id}\\s+legacy`));
    expect(output).toContain(`legacy: ${app.url}`);
  });

  it('captures the chosen tables: a snapshot, then the loan made through the gateway', async () => {
    expect(resultOf(/SHOW wal_level/)?.stdout.trim()).toBe('logical');
    const lines = (await readFile(path.join(project, 'changes.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map(
        (line) =>
          JSON.parse(line) as {
            topic: string;
            value: { op: string; after: Record<string, unknown> } | null;
          },
      );
    const count = (topic: string, op: string) =>
      lines.filter((record) => record.topic === topic && record.value?.op === op).length;
    expect(count('ficus.public.authors', 'r')).toBe(5);
    expect(count('ficus.public.books', 'r')).toBe(40);
    expect(count('ficus.public.loans', 'r')).toBe(3);
    const loan = lines.find((record) => record.value?.after.borrower === BORROWER);
    expect(loan).toMatchObject({
      topic: 'ficus.public.loans',
      value: { op: 'c', after: { book_id: 7 } },
    });
    expect(lines.some((record) => record.topic.includes('ficus_signal'))).toBe(false);

    const head =
      resultOf(/head -n 2 changes\.jsonl/)
        ?.stdout.trim()
        .split('\n') ?? [];
    expect(head).toHaveLength(2);
    expect(JSON.parse(head[0]!)).toMatchObject({ value: { op: 'r', source: { db: db.name } } });
    const status = JSON.parse(
      resultOf(/curl -s "\$FICUS_CDC_STATUS_URL"$/)?.stdout ?? '{}',
    ) as CdcStatus;
    expect(status).toMatchObject({ state: 'streaming', sink: 'stdout', slot: SLOT });
    expect(Object.keys(status.tables).sort()).toEqual([
      'public.authors',
      'public.books',
      'public.loans',
    ]);
  });

  it('signs in to the dashboard, whose Data sync shows the connector', async () => {
    const page = await fetch(`${gatewayUrl}/_ficus/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(syncWithStdout).toMatchObject({
      cdc: {
        url: statusUrl,
        available: true,
        status: { state: 'streaming', sink: 'stdout', tables: { 'public.loans': { c: 1 } } },
      },
    });
    const unauthenticated = await fetch(`${gatewayUrl}/_ficus/api/sync`);
    expect(unauthenticated.status).toBe(401);
  });

  it.skipIf(!kafkaBrokers())('switches the connector to Kafka with a fresh snapshot', async () => {
    const sync = await dashboardSync();
    expect(sync.cdc?.status).toMatchObject({ state: 'streaming', sink: 'kafka' });
    const status = await json<CdcStatus>(statusUrl);
    expect(status.tables['public.loans']).toMatchObject({ r: 4 });

    // With REPLICA IDENTITY FULL (section 3), an update carries the old row as well.
    const loan = JSON.parse(resultOf(/-X POST .*\/loans/)?.stdout ?? '{}') as { id: number };
    expect(loan).toMatchObject({ bookId: 7, borrower: BORROWER, returnedAt: null });
    const returned = await fetch(`${gatewayUrl}/loans/${loan.id}/return`, { method: 'POST' });
    expect(returned.status).toBe(200);

    const consumer = testKafka(brokers!).consumer({ groupId: uniqueName('guide-front') });
    const seen: { op: string; before: unknown; after: { borrower?: unknown } | null }[] = [];
    try {
      await consumer.connect();
      await consumer.subscribe({ topic: 'ficus.public.loans', fromBeginning: true });
      await consumer.run({
        eachMessage: ({ message }) => {
          const value = JSON.parse(message.value?.toString() ?? 'null') as {
            op: string;
            before: unknown;
            after: { borrower?: unknown } | null;
            source: { db: string };
          } | null;
          // The topic's name is the guide's, so other runs may have written to it too.
          if (value?.source.db === db.name)
            seen.push({ op: value.op, before: value.before, after: value.after });
          return Promise.resolve();
        },
      });
      await waitUntil(
        () => seen.length >= 5,
        30_000,
        () => JSON.stringify(seen),
      );
    } finally {
      await consumer.disconnect();
    }
    expect(seen.filter(({ op }) => op === 'r')).toHaveLength(4);
    expect(seen.find(({ op, after }) => op === 'r' && after?.borrower === BORROWER)).toBeDefined();
    expect(seen.at(-1)).toMatchObject({
      op: 'u',
      before: { id: loan.id, borrower: BORROWER, returned_at: null },
      after: { id: loan.id, borrower: BORROWER, returned_at: expect.any(String) as unknown },
    });
  });
});
