/**
 * The file route store: routes.yaml is the source of truth, edits are picked up while the gateway
 * runs, invalid edits are refused, writes go back to the file, and history survives restarts.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import YAML from 'yaml';
import { ConfigError } from '../../../common/index.js';
import { parseRouteTable, RouteTableError } from '../../../gateway/route-table/index.js';
import {
  createFileRouteStore,
  type FileRouteStoreOptions,
  type RouteStore,
} from '../../../gateway/store/index.js';
import {
  captureLogs,
  createTempDir,
  nextVersion,
  routeOf,
  SAMPLE_YAML,
  sampleTable,
} from './fixtures.js';

const waitOptions = { timeout: 5_000, interval: 20 };

let temp: { dir: string; remove(): Promise<void> };
let file: string;
const opened: RouteStore[] = [];

async function open(options: Partial<FileRouteStoreOptions> = {}): Promise<RouteStore> {
  const store = await createFileRouteStore({ file, ...options });
  opened.push(store);
  return store;
}

beforeEach(async () => {
  temp = await createTempDir();
  file = path.join(temp.dir, 'routes.yaml');
  await writeFile(file, SAMPLE_YAML);
});

afterEach(async () => {
  await Promise.all(opened.splice(0).map((store) => store.close()));
  await temp.remove();
});

/** The file's content with one YAML line replaced. */
async function editFile(from: string, to: string): Promise<void> {
  const text = await readFile(file, 'utf8');
  if (!text.includes(from)) throw new Error(`routes file has no ${JSON.stringify(from)}`);
  await writeFile(file, text.replace(from, to));
}

describe('loading', () => {
  it('starts with the file as version 1 and records it in history', async () => {
    const store = await open();
    const current = store.current();
    expect(current).toMatchObject({ version: 1, kind: 'load', actor: 'file' });
    expect(current.table).toEqual(parseRouteTable(sampleTable()));
    expect(Object.isFrozen(routeOf(current, 'orders'))).toBe(true);
    const lines = (await readFile(`${file}.history.jsonl`, 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ version: 1, kind: 'load' });
  });

  it('refuses to start on an invalid file, naming the file, route and field', async () => {
    await editFile('mode: legacy # moves first', 'mode: canary\n    weight: 150');
    await expect(open()).rejects.toThrow(ConfigError);
    await expect(open()).rejects.toThrow(/routes\.yaml.*route product-detail: routes\[0\]\.weight/);
  });

  it('refuses to start without a file', async () => {
    await expect(open({ file: path.join(temp.dir, 'missing.yaml') })).rejects.toThrow(
      /does not exist/,
    );
  });
});

describe('watching the file', () => {
  it('makes an edit to the file a new version', async () => {
    const store = await open();
    const changed = nextVersion(store);
    await editFile('mode: legacy # moves first', 'mode: canary # moves first\n    weight: 10');
    const version = await changed;
    expect(version).toMatchObject({
      version: 2,
      kind: 'change',
      actor: 'file',
      reason: 'routes file changed',
    });
    expect(routeOf(version, 'product-detail')).toMatchObject({ mode: 'canary', weight: 10 });
    expect(store.current()).toBe(version);
  });

  it('follows editors that save by renaming a new file over the old one, again and again', async () => {
    const store = await open();
    for (const weight of [10, 20, 30]) {
      const changed = nextVersion(store);
      const text = SAMPLE_YAML.replace(
        'mode: legacy # moves first',
        `mode: canary\n    weight: ${weight}`,
      );
      const swap = path.join(temp.dir, '.routes.yaml.swp');
      await writeFile(swap, text);
      await rename(swap, file);
      expect(routeOf(await changed, 'product-detail').weight).toBe(weight);
    }
    expect((await store.history()).map((v) => v.version)).toEqual([4, 3, 2, 1]);
  });

  it('refuses an invalid edit, keeps the running table, and says why until the file is fixed', async () => {
    const { logger, lines } = captureLogs();
    const store = await open({ logger });
    await editFile('mode: legacy # moves first', 'mode: canary\n    weight: 150');
    await vi.waitFor(() => expect(store.status().lastError).toBeDefined(), waitOptions);

    expect(store.current().version).toBe(1);
    expect(routeOf(store.current(), 'product-detail').mode).toBe('legacy');
    expect(store.status().lastError?.problems).toEqual([
      expect.objectContaining({ route: 'product-detail', field: 'routes[0].weight' }),
    ]);
    const warning = lines.find((line) => line.level === 40);
    expect(warning?.msg).toMatch(/edit refused, version 1 keeps running.*product-detail.*weight/);

    const fixed = nextVersion(store);
    await editFile('weight: 150', 'weight: 15');
    expect(routeOf(await fixed, 'product-detail').weight).toBe(15);
    expect(store.status().lastError).toBeUndefined();
  });

  it('refuses a YAML syntax error with its line', async () => {
    const store = await open();
    await writeFile(file, 'legacy: [http://127.0.0.1:3000\nroutes: x: y\n');
    await vi.waitFor(() => expect(store.status().lastError).toBeDefined(), waitOptions);
    expect(store.status().lastError?.message).toMatch(/line \d+, column \d+/);
    expect(store.current().version).toBe(1);
  });

  it('makes no version when an edit changes only comments', async () => {
    const { logger, lines } = captureLogs();
    const store = await open({ logger });
    await editFile('# Owned by the platform team.', '# Owned by the checkout team.');
    await vi.waitFor(
      () =>
        expect(lines.some((l) => l.msg === 'routes file changed but its table did not')).toBe(true),
      waitOptions,
    );
    expect(await store.history()).toHaveLength(1);
  });
});

describe('writing', () => {
  it('writes an update back to the file and does not count its own write as an edit', async () => {
    const { logger, lines } = captureLogs();
    const store = await open({ logger });
    const table = sampleTable();
    table.routes[1]!.mode = 'new';
    const version = await store.update(table, { actor: 'alice', reason: 'orders are moved' });
    expect(version).toMatchObject({ version: 2, kind: 'change', actor: 'alice' });
    const afterWrite = lines.length;

    const written = await readFile(file, 'utf8');
    expect(written.startsWith('# Route table for the shop.\n# Owned by the platform team.\n')).toBe(
      true,
    );
    expect(parseRouteTable(YAML.parse(written))).toEqual(version.table);
    // Defaults are left out: the file stays as short as a person would write it.
    expect(written).not.toMatch(/timeoutMs|sampleRate|fallback/);

    // The watcher sees the rename and recognises the content as our own.
    await vi.waitFor(
      () =>
        expect(
          lines
            .slice(afterWrite)
            .some((line) => line.msg === 'routes file unchanged' && line.trigger === 'watch'),
        ).toBe(true),
      waitOptions,
    );
    expect((await store.history()).map((v) => v.version)).toEqual([2, 1]);

    // And it keeps watching: a later edit is one more version, not two.
    const edited = nextVersion(store);
    await editFile('mode: legacy', 'mode: canary\n    weight: 5');
    expect(await edited).toMatchObject({ version: 3, actor: 'file' });
    expect(await store.history()).toHaveLength(3);
  });

  it('changes a mode in place, keeping the comments of the file', async () => {
    const store = await open();
    const version = await store.setMode(
      'product-detail',
      { mode: 'canary', weight: 25 },
      { actor: 'bob', reason: 'first canary step' },
    );
    expect(routeOf(version, 'product-detail')).toMatchObject({ mode: 'canary', weight: 25 });
    const written = await readFile(file, 'utf8');
    expect(written).toContain('catalog: http://127.0.0.1:3101 # the read model');
    expect(written).toContain('- id: product-detail # hottest endpoint');
    expect(written).toContain('mode: canary # moves first');
    expect(parseRouteTable(YAML.parse(written))).toEqual(version.table);
  });

  it('refuses an unknown route with 404 and an invalid value naming route and field', async () => {
    const store = await open();
    const before = await readFile(file, 'utf8');
    await expect(
      store.setMode('nope', { mode: 'new' }, { actor: 'bob', reason: 'x' }),
    ).rejects.toMatchObject({ code: 'FICUS_ROUTE_NOT_FOUND', statusCode: 404 });
    const refused = store.setMode('static', { mode: 'new' }, { actor: 'bob', reason: 'x' });
    await expect(refused).rejects.toBeInstanceOf(RouteTableError);
    await expect(refused).rejects.toMatchObject({
      problems: [expect.objectContaining({ route: 'static', field: 'routes[2].service' })],
    });
    await expect(store.update({ legacy: 'ftp://x' }, { actor: 'a', reason: 'b' })).rejects.toThrow(
      RouteTableError,
    );
    expect(await readFile(file, 'utf8')).toBe(before);
    expect(store.current().version).toBe(1);
  });

  it('requires an actor and a reason', async () => {
    const store = await open();
    await expect(
      store.setMode('orders', { mode: 'new' }, { actor: 'bob', reason: '  ' }),
    ).rejects.toMatchObject({ code: 'FICUS_CHANGE_INVALID', field: 'reason' });
    expect(store.current().version).toBe(1);
  });

  it('applies an edit the watcher has not reported yet before its own write, losing neither', async () => {
    const store = await open({ debounceMs: 60_000 });
    await editFile('mode: legacy # moves first', 'mode: canary # moves first\n    weight: 10');
    const version = await store.setMode('orders', { mode: 'new' }, { actor: 'bob', reason: 'go' });
    expect(version.version).toBe(3);
    expect(routeOf(version, 'product-detail')).toMatchObject({ mode: 'canary', weight: 10 });
    expect(routeOf(version, 'orders').mode).toBe('new');
    const [, fileEdit] = await store.history();
    expect(fileEdit).toMatchObject({ version: 2, actor: 'file' });
  });

  it('saves a refused edit to <file>.rejected before a write replaces it', async () => {
    const store = await open();
    await editFile('mode: legacy # moves first', 'mode: canary\n    weight: 150');
    await vi.waitFor(() => expect(store.status().lastError).toBeDefined(), waitOptions);
    await store.setMode(
      'orders',
      { mode: 'new' },
      { actor: 'guard', reason: 'x', kind: 'rollback' },
    );
    expect(await readFile(`${file}.rejected`, 'utf8')).toContain('weight: 150');
    expect(store.status().lastError).toBeUndefined();
    expect(routeOf(store.current(), 'product-detail').mode).toBe('legacy');
    expect(store.current().kind).toBe('rollback');
  });

  it('writes a JSON routes file back as JSON', async () => {
    file = path.join(temp.dir, 'routes.json');
    await writeFile(file, JSON.stringify(sampleTable(), null, 2));
    const store = await open();
    await store.setMode('orders', { weight: 40, mode: 'canary' }, { actor: 'a', reason: 'b' });
    const written = JSON.parse(await readFile(file, 'utf8')) as ReturnType<typeof sampleTable>;
    expect(written.routes[1]).toMatchObject({ id: 'orders', mode: 'canary', weight: 40 });
  });
});

describe('history and restore', () => {
  it('survives a restart of the store', async () => {
    const first = await open();
    await first.setMode('orders', { mode: 'canary', weight: 10 }, { actor: 'a', reason: 'step 1' });
    await first.setMode('orders', { weight: 50 }, { actor: 'a', reason: 'step 2' });
    const before = await first.history();
    await first.close();

    const second = await open();
    expect(await second.history()).toEqual(before);
    expect(second.current()).toEqual(before[0]);
    const next = await second.setMode('orders', { mode: 'new' }, { actor: 'a', reason: 'step 3' });
    expect(next.version).toBe(4);
  });

  it('records an edit made while the gateway was stopped as a load version', async () => {
    const first = await open();
    await first.close();
    await editFile('mode: legacy # moves first', 'mode: new');
    const second = await open();
    expect(second.current()).toMatchObject({
      version: 2,
      kind: 'load',
      reason: 'routes file changed while the gateway was stopped',
    });
  });

  it('skips a history line cut short by a crash', async () => {
    const first = await open();
    await first.setMode('orders', { mode: 'new' }, { actor: 'a', reason: 'b' });
    await first.close();
    await writeFile(
      `${file}.history.jsonl`,
      `${await readFile(`${file}.history.jsonl`, 'utf8')}{"version":3,"tab`,
    );
    const second = await open();
    expect(second.current().version).toBe(2);
    const next = await second.setMode('orders', { mode: 'legacy' }, { actor: 'a', reason: 'c' });
    expect(next.version).toBe(3);
    await second.close();
    expect((await (await open()).history()).map((v) => v.version)).toEqual([3, 2, 1]);
  });

  it('restores an earlier table as a new version, in memory and in the file', async () => {
    const store = await open();
    await store.setMode('orders', { mode: 'new' }, { actor: 'a', reason: 'move orders' });
    const restored = await store.restore(1, { actor: 'carol', reason: 'orders broke' });
    expect(restored).toMatchObject({
      version: 3,
      kind: 'restore',
      restoredFrom: 1,
      actor: 'carol',
      reason: 'orders broke',
    });
    expect(restored.table).toEqual((await store.history())[2]!.table);
    expect(parseRouteTable(YAML.parse(await readFile(file, 'utf8')))).toEqual(restored.table);
    await expect(store.restore(99, { actor: 'a', reason: 'b' })).rejects.toMatchObject({
      code: 'FICUS_VERSION_NOT_FOUND',
      statusCode: 404,
    });
  });

  it('tells every subscriber about every version, and stops after unsubscribe', async () => {
    const store = await open();
    const seen: number[] = [];
    const unsubscribe = store.subscribe((version) => seen.push(version.version));
    store.subscribe(() => {
      throw new Error('a broken listener');
    });
    await store.setMode('orders', { mode: 'new' }, { actor: 'a', reason: 'b' });
    await store.restore(1, { actor: 'a', reason: 'c' });
    unsubscribe();
    await store.setMode('orders', { mode: 'new' }, { actor: 'a', reason: 'd' });
    expect(seen).toEqual([2, 3]);
  });
});
