/**
 * `ficus --version` and per-subcommand help, through the real binary.
 */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { spawnFicus } from '../support/cli.js';

async function ficus(...args: string[]): Promise<{ code: number | string; output: string }> {
  const cli = spawnFicus(args);
  const code = await cli.exited;
  return { code, output: cli.output() };
}

const packageVersion = async () =>
  (
    JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    }
  ).version;

describe('ficus --version', () => {
  it.each([['--version'], ['version']])('ficus %s prints the package version', async (arg) => {
    const { code, output } = await ficus(arg);
    expect(code).toBe(0);
    expect(output).toBe(`ficus ${await packageVersion()}\n`);
  });
});

describe('per-subcommand help', () => {
  it("routes set --help prints set's own help, not list's or the command's", async () => {
    const { code, output } = await ficus('routes', 'set', '--help');
    expect(code).toBe(0);
    expect(output).toMatch(/^Usage: ficus routes set <route-id> --reason TEXT/);
    expect(output).toMatch(/--weight N\s+canary weight, 0 to 100/);
    expect(output).toMatch(/--gateway URL/);
    expect(output).not.toMatch(/ficus routes list/);
    expect(output).not.toMatch(/^Actions:/m);
  });

  it.each([
    ['list', /^Usage: ficus routes list /],
    ['history', /^Usage: ficus routes history /],
    ['restore', /^Usage: ficus routes restore <version> --reason TEXT/],
  ])('routes %s --help prints its own usage', async (action, usage) => {
    const { code, output } = await ficus('routes', action, '--help');
    expect(code).toBe(0);
    expect(output).toMatch(usage);
  });

  it('finds the subcommand after flags, and with -h', async () => {
    const { output } = await ficus('routes', '--json', 'history', '-h');
    expect(output).toMatch(/^Usage: ficus routes history /);
  });

  it('routes --help lists the actions and points at their own help', async () => {
    const { code, output } = await ficus('routes', '--help');
    expect(code).toBe(0);
    expect(output).toMatch(/^Usage: ficus routes <action> \[options\]/);
    expect(output).toMatch(/Run 'ficus routes <action> --help' for an action's own help/);
  });

  it("an unknown subcommand with --help prints the command's help", async () => {
    const { code, output } = await ficus('routes', 'frobnicate', '--help');
    expect(code).toBe(0);
    expect(output).toMatch(/^Usage: ficus routes <action> \[options\]/);
  });

  it('cdc slots --help describes listing slots', async () => {
    const { code, output } = await ficus('cdc', 'slots', '--help');
    expect(code).toBe(0);
    expect(output).toMatch(/^Usage: ficus cdc slots \[--database-url URL\] \[--json\]/);
    expect(output).toMatch(/--database-url URL .*env DATABASE_URL/);
    expect(output).not.toMatch(/--topic-prefix/);
  });

  it('cdc drop-slot --help describes dropping a slot and its refusals', async () => {
    const { code, output } = await ficus('cdc', 'drop-slot', '--help');
    expect(code).toBe(0);
    expect(output).toMatch(/^Usage: ficus cdc drop-slot NAME /);
    expect(output).toMatch(/--force/);
    expect(output).toMatch(/--offsets-file FILE/);
    expect(output).toMatch(/stop its connector first/);
    expect(output).not.toMatch(/--topic-prefix/);
  });

  it('cdc snapshot --help and help cdc snapshot print the snapshot help', async () => {
    for (const args of [
      ['cdc', 'snapshot', '--help'],
      ['help', 'cdc', 'snapshot'],
    ]) {
      const { code, output } = await ficus(...args);
      expect(code).toBe(0);
      expect(output).toMatch(/^Usage: ficus cdc snapshot --table SCHEMA\.TABLE/);
    }
  });

  it('cdc --help lists the subcommands and the inactive-slot setting', async () => {
    const { output } = await ficus('cdc', '--help');
    expect(output).toMatch(/^ {2}slots +list the logical replication slots/m);
    expect(output).toMatch(/^ {2}drop-slot +drop a ficus replication slot/m);
    expect(output).toMatch(/run 'ficus cdc <subcommand> --help'/);
    expect(output).toMatch(/--inactive-slot-warn-bytes SIZE/);
    expect(output).toMatch(/FICUS_CDC_INACTIVE_SLOT_WARN_BYTES/);
  });
});
