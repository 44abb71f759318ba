/**
 * `ficus gateway` and `ficus routes` as a user runs them: a routes file, live edits, and the admin
 * client changing a route with a reason that shows up in the history.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitUntil } from '../cdc/harness.js';
import { spawnFicus, type FicusProcess } from '../support/cli.js';
import { startUpstream, type FakeUpstream } from '../support/upstream.js';

const token = 'cli-test-admin-token-0123456789';
let legacy: FakeUpstream;
let service: FakeUpstream;
let dir: string;
let routesFile: string;
let gateway: FicusProcess;
let gatewayUrl: string;

async function fromOf(url: string): Promise<string> {
  return ((await (await fetch(url)).json()) as { from: string }).from;
}

async function routesCli(...args: string[]): Promise<{ code: number | string; output: string }> {
  const cli = spawnFicus(['routes', ...args, '--gateway', gatewayUrl], {
    FICUS_ADMIN_TOKEN: token,
    FICUS_ACTOR: 'tester',
  });
  const code = await cli.exited;
  return { code, output: cli.output() };
}

beforeAll(async () => {
  [legacy, service] = await Promise.all([startUpstream('legacy'), startUpstream('service')]);
  dir = await mkdtemp(path.join(tmpdir(), 'ficus-gateway-cli-'));
  routesFile = path.join(dir, 'routes.yaml');
  await writeFile(
    routesFile,
    [
      '# routes for the CLI test',
      `legacy: ${legacy.url}`,
      'services:',
      `  catalog: ${service.url}`,
      'routes:',
      '  - id: products',
      '    path: /products',
      '    service: catalog',
      '    mode: legacy',
      '',
    ].join('\n'),
  );
  gateway = spawnFicus(['gateway', '--routes', routesFile, '--port', '0'], {
    FICUS_ADMIN_TOKEN: token,
  });
  const [, url] = await gateway.waitFor(/"url":"(http:\/\/[^"]+)"/);
  gatewayUrl = url!;
});

afterAll(async () => {
  gateway.child.kill('SIGTERM');
  await gateway.exited;
  await Promise.all([legacy.close(), service.close()]);
  await rm(dir, { recursive: true, force: true });
});

describe('ficus gateway and ficus routes', () => {
  it('routes from the file and reloads it when it changes', async () => {
    expect(await fromOf(`${gatewayUrl}/products`)).toBe('legacy');
    const text = await readFile(routesFile, 'utf8');
    await writeFile(routesFile, text.replace('mode: legacy', 'mode: new'));
    await waitUntil(async () => (await fromOf(`${gatewayUrl}/products`)) === 'service');
  });

  it('keeps the running table when the file is edited into an invalid one', async () => {
    const text = await readFile(routesFile, 'utf8');
    await writeFile(routesFile, text.replace('service: catalog', 'service: nowhere'));
    await gateway.waitFor(/unknown service nowhere/);
    expect(await fromOf(`${gatewayUrl}/products`)).toBe('service');
    await writeFile(routesFile, text);
  });

  it('lists, changes with a reason, shows history and restores through the admin API', async () => {
    const list = await routesCli('list');
    expect(list.code).toBe(0);
    expect(list.output).toMatch(/products\s+new/);

    const set = await routesCli(
      'set',
      'products',
      '--mode',
      'legacy',
      '--reason',
      'service misbehaves',
    );
    expect(set.code).toBe(0);
    expect(await fromOf(`${gatewayUrl}/products`)).toBe('legacy');
    expect(await readFile(routesFile, 'utf8')).toMatch(/mode: legacy/);

    const history = await routesCli('history');
    expect(history.output).toMatch(/tester\s+service misbehaves/);
    const versions = (await routesCli('history', '--json')).output;
    const parsed = JSON.parse(versions.slice(versions.indexOf('['))) as {
      version: number;
      table: { routes: { mode: string }[] };
    }[];
    const withNew = parsed.find((v) => v.table.routes[0]?.mode === 'new')!;

    const restore = await routesCli('restore', String(withNew.version), '--reason', 'fixed');
    expect(restore.code).toBe(0);
    await waitUntil(async () => (await fromOf(`${gatewayUrl}/products`)) === 'service');
  });

  it.each([
    [
      ['set', 'products', '--mode', 'sideways', '--reason', 'x'],
      /--mode must be one of legacy, shadow, canary, new/,
    ],
    [['set', 'products', '--mode', 'new'], /set needs --reason/],
    [
      ['set', 'nope', '--mode', 'new', '--reason', 'x'],
      /no route with id "nope"; routes are products/,
    ],
    [['fly'], /unknown action "fly"/],
  ])('refuses %j with a clear message', async (args, message) => {
    const result = await routesCli(...args);
    expect(result.code).not.toBe(0);
    expect(result.output).toMatch(message);
  });

  it('says when the token is wrong', async () => {
    const cli = spawnFicus(['routes', 'list', '--gateway', gatewayUrl], {
      FICUS_ADMIN_TOKEN: 'wrong-token-0123456789',
    });
    expect(await cli.exited).not.toBe(0);
    expect(cli.output()).toMatch(/FICUS_ADMIN_TOKEN/);
  });
});
