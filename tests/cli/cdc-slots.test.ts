/**
 * `ficus cdc slots` and `ficus cdc drop-slot` as a user runs them, against a real Postgres.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStdoutSink, listSlots } from '../../cdc/index.js';
import { connectorOptionsOf, parseCdcArgs } from '../../cli/commands/cdc.js';
import { createSilentLogger } from '../../common/index.js';
import { createCdcDatabase, startTestConnector, type CdcDatabase } from '../cdc/harness.js';
import { spawnFicus } from '../support/cli.js';

let db: CdcDatabase;
let counter = 0;

beforeAll(async () => {
  db = await createCdcDatabase();
  await db.sql('CREATE TABLE items (id serial PRIMARY KEY)');
});
afterAll(() => db.cleanup());

const uniqueSlot = (what: string) => `cli_${what}_${process.pid}_${counter++}`;

async function ficus(...args: string[]): Promise<{ code: number | string; output: string }> {
  const cli = spawnFicus(['cdc', ...args], { DATABASE_URL: db.url });
  const code = await cli.exited;
  return { code, output: cli.output() };
}

const slotExists = async (name: string) =>
  (await listSlots(db.url)).some((slot) => slot.name === name);

describe('ficus cdc slots', () => {
  it("lists a running connector's slot with its pid, and as ficus's", async () => {
    const running = await startTestConnector(db.url, {
      slotName: uniqueSlot('listed'),
      tableIncludeList: ['public.items'],
    });
    const { slotName, publicationName } = running.options;
    try {
      const pid = (await listSlots(db.url)).find((slot) => slot.name === slotName)!.activePid!;
      const table = await ficus('slots');
      expect(table.code).toBe(0);
      expect(table.output).toMatch(
        /^SLOT +DATABASE +ACTIVE +RETAINED WAL +WAL STATUS +FICUS +PUBLICATION$/m,
      );
      expect(table.output).toMatch(
        new RegExp(
          `^${slotName} +${db.name} +pid ${pid} \\(ficus cdc ${slotName}\\) +\\d+(\\.\\d)? (B|KiB|MiB) +reserved +yes +${publicationName}$`,
          'm',
        ),
      );

      const json = await ficus('slots', '--json');
      expect(json.code).toBe(0);
      const slots = JSON.parse(json.output) as { name: string }[];
      expect(slots.find((slot) => slot.name === slotName)).toMatchObject({
        active: true,
        activePid: pid,
        ficus: true,
        publications: [publicationName],
      });
    } finally {
      await running.stop();
    }
  });
});

describe('ficus cdc drop-slot', () => {
  it('refuses an active slot in one line with exit code 1, then drops it once stopped', async () => {
    const running = await startTestConnector(db.url, {
      slotName: uniqueSlot('busy'),
      tableIncludeList: ['public.items'],
    });
    const { slotName, publicationName } = running.options;
    let stopped = false;
    try {
      const pid = (await listSlots(db.url)).find((slot) => slot.name === slotName)!.activePid!;
      const refused = await ficus('drop-slot', slotName);
      expect(refused.code).toBe(1);
      expect(refused.output).toBe(
        `ficus cdc: replication slot '${slotName}' is active: pid ${pid} (application 'ficus cdc ${slotName}') is streaming from it; stop that connector first, then drop the slot [FICUS_CDC_SLOT_ACTIVE]\n`,
      );
      expect(await slotExists(slotName)).toBe(true);

      await running.stop();
      stopped = true;
      const dropped = await ficus('drop-slot', slotName);
      expect(dropped.code).toBe(0);
      expect(dropped.output).toBe(
        `dropped replication slot '${slotName}' (database '${db.name}')\ndropped publication '${publicationName}'\n`,
      );
      expect(await slotExists(slotName)).toBe(false);
    } finally {
      if (!stopped) await running.stop();
    }
  });

  it('refuses a slot ficus did not create without --force, and drops it with', async () => {
    const slot = uniqueSlot('manual');
    await db.sql("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [slot]);
    const refused = await ficus('drop-slot', slot);
    expect(refused.code).toBe(1);
    expect(refused.output).toMatch(
      new RegExp(
        `^ficus cdc: replication slot '${slot}' was not created by ficus .*pass --force .*\\[FICUS_CDC_SLOT_NOT_FICUS\\]\\n$`,
      ),
    );
    const forced = await ficus('drop-slot', slot, '--force');
    expect(forced.code).toBe(0);
    expect(forced.output).toMatch(new RegExp(`^dropped replication slot '${slot}'.*--force`));
    expect(await slotExists(slot)).toBe(false);
  });

  it('names the slots there are when the slot does not exist', async () => {
    const { code, output } = await ficus('drop-slot', 'no_such_slot');
    expect(code).toBe(1);
    expect(output).toMatch(
      /^ficus cdc: replication slot 'no_such_slot' does not exist; .*\[FICUS_CDC_SLOT_NOT_FOUND\]\n$/,
    );
  });

  it.each([
    [[], /slot is required: name the slot to drop/],
    [['a', 'b'], /unexpected argument "b"/],
    [['Bad-Name'], /slot: must be a Postgres slot name .*; got "Bad-Name"/],
    [['x', '--colour'], /Unknown option '--colour'.*ficus cdc drop-slot --help/],
  ])('exits 2 on bad usage %j', async (args, message) => {
    const { code, output } = await ficus('drop-slot', ...args);
    expect(code).toBe(2);
    expect(output).toMatch(message);
    expect(output).toMatch(/\[FICUS_CONFIG_INVALID\]\n$/);
  });
});

describe('the inactive-slot warning setting', () => {
  const url = 'postgres://ficus:ficus@127.0.0.1:5432/legacy';

  it.each([
    [[], {}, 1024 ** 3],
    [[], { FICUS_CDC_INACTIVE_SLOT_WARN_BYTES: '512MB' }, 512 * 1024 ** 2],
    [[], { FICUS_CDC_INACTIVE_SLOT_WARN_BYTES: '0' }, 0],
    [['--inactive-slot-warn-bytes', '2048'], { FICUS_CDC_INACTIVE_SLOT_WARN_BYTES: '512MB' }, 2048],
  ])('%j with %j is %d bytes, handed to the connector', async (argv, env, bytes) => {
    const config = await parseCdcArgs(argv, { DATABASE_URL: url, ...env });
    expect(config.inactiveSlotWarnBytes).toBe(bytes);
    const options = connectorOptionsOf(config, createStdoutSink(), createSilentLogger());
    expect(options.inactiveSlotWarnBytes).toBe(bytes);
  });

  it('names the setting and what is allowed for a bad value', async () => {
    await expect(
      parseCdcArgs(['--inactive-slot-warn-bytes', 'lots'], { DATABASE_URL: url }),
    ).rejects.toMatchObject({
      code: 'FICUS_CONFIG_INVALID',
      message: expect.stringMatching(
        /^inactiveSlotWarnBytes \(from --inactive-slot-warn-bytes\): must be a whole number of bytes.*512MB.*; got "lots"$/,
      ) as unknown,
    });
  });
});
