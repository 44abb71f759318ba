/**
 * The slots and publications ficus creates: marked, listed, dropped (and refused), and the warning
 * a running connector gives about abandoned ones.
 */
import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  dropCdcResources,
  listSlots,
  parseByteSize,
  parsePublicationMarker,
  publicationMarker,
  startStatusServer,
  type ConnectorStatus,
  type SlotInfo,
} from '../../cdc/index.js';
import { createConnectorSource } from '../../extracted-services/runtime/sources/connector.js';
import { createCdcDatabase, startTestConnector, waitUntil, type CdcDatabase } from './harness.js';

let db: CdcDatabase;
let dir: string;
let counter = 0;

beforeAll(async () => {
  db = await createCdcDatabase();
  await db.sql('CREATE TABLE items (id serial PRIMARY KEY, note text)');
  dir = await mkdtemp(path.join(tmpdir(), 'ficus-slots-'));
});
afterAll(async () => {
  await db.cleanup();
  await rm(dir, { recursive: true, force: true });
});

/** A slot name of its own for each test. */
const uniqueSlot = (what: string) => `${what}_${process.pid}_${counter++}`;

/** Writes some WAL on the test database. */
const writeRows = (n = 50) =>
  db.sql("INSERT INTO items (note) SELECT repeat('x', 200) FROM generate_series(1, $1)", [n]);

async function slotNamed(name: string): Promise<SlotInfo | undefined> {
  return (await listSlots(db.url)).find((slot) => slot.name === name);
}

async function publicationComment(name: string): Promise<string | null | undefined> {
  const { rows } = await db.sql(
    "SELECT obj_description(oid, 'pg_publication') AS comment FROM pg_publication WHERE pubname = $1",
    [name],
  );
  return (rows[0] as { comment: string | null } | undefined)?.comment;
}

async function publicationExists(name: string): Promise<boolean> {
  const { rowCount } = await db.sql('SELECT 1 FROM pg_publication WHERE pubname = $1', [name]);
  return rowCount === 1;
}

/** A connector started and stopped again: its slot stays behind, inactive. */
async function abandonedConnector(slotName: string, overrides = {}) {
  const running = await startTestConnector(db.url, {
    slotName,
    tableIncludeList: ['public.items'],
    snapshotMode: 'never',
    ...overrides,
  });
  await running.stop();
  return running.options;
}

describe('the publication marker', () => {
  it.each([
    [publicationMarker('orders_cdc'), 'orders_cdc'],
    ['ficus:slot=orders_cdc', 'orders_cdc'],
    ['  ficus:slot=a1; anything after', 'a1'],
    ['ficus:slot=a1 created by hand', 'a1'],
    ['orders feed; ficus:slot=orders_cdc', undefined],
    ['ficus:slot=Orders', undefined],
    ['ficus:slot=orders-cdc', undefined],
    ['ficus:slot=', undefined],
    ['', undefined],
    [null, undefined],
  ])('%j marks slot %j', (comment, slot) => {
    expect(parsePublicationMarker(comment)).toBe(slot);
  });
});

describe('byte sizes', () => {
  it.each([
    ['0', 0],
    ['1', 1],
    [1073741824, 1073741824],
    ['512MB', 512 * 1024 ** 2],
    ['1 GiB', 1024 ** 3],
    ['1gb', 1024 ** 3],
    ['64kB', 65536],
    ['1.5G', 1.5 * 1024 ** 3],
    ['12 bytes', undefined],
    ['-1', undefined],
    ['lots', undefined],
    [1.5, undefined],
  ])('%j is %j bytes', (text, bytes) => {
    expect(parseByteSize(text)).toBe(bytes);
  });
});

describe('slots a connector creates', () => {
  it('marks the publication it creates with its slot', async () => {
    const running = await startTestConnector(db.url, {
      slotName: uniqueSlot('marked'),
      tableIncludeList: ['public.items'],
    });
    try {
      const comment = await publicationComment(running.options.publicationName);
      expect(comment).toMatch(/^ficus:slot=/);
      expect(parsePublicationMarker(comment)).toBe(running.options.slotName);
    } finally {
      await running.stop();
    }
  });

  it('lists the slot as active while the connector runs, and inactive with retained WAL after', async () => {
    const running = await startTestConnector(db.url, {
      slotName: uniqueSlot('listed'),
      tableIncludeList: ['public.items'],
    });
    const { slotName, publicationName } = running.options;
    let stopped = false;
    try {
      const active = await slotNamed(slotName);
      expect(active).toMatchObject({
        name: slotName,
        plugin: 'pgoutput',
        database: db.name,
        temporary: false,
        active: true,
        activePid: expect.any(Number) as unknown,
        applicationName: `ficus cdc ${slotName}`,
        walStatus: 'reserved',
        ficus: true,
        publications: [publicationName],
      });
      await running.stop();
      stopped = true;
      await writeRows();
      const inactive = await slotNamed(slotName);
      expect(inactive).toMatchObject({ active: false, activePid: null, ficus: true });
      expect(inactive!.retainedBytes).toBeGreaterThan(0);
      expect(inactive!.confirmedLagBytes).toBeGreaterThan(0);
    } finally {
      if (!stopped) await running.stop();
    }
  });

  it('does not count a slot as ficus when its publication was made by the user', async () => {
    await db.sql('CREATE PUBLICATION users_own FOR TABLE items');
    const { slotName } = await abandonedConnector(uniqueSlot('userpub'), {
      publicationName: 'users_own',
    });
    expect(await slotNamed(slotName)).toMatchObject({ ficus: false, publications: [] });
    expect(await publicationComment('users_own')).toBeNull();
  });
});

describe('dropCdcResources', () => {
  it('refuses an active slot, naming the pid and application that stream from it', async () => {
    const running = await startTestConnector(db.url, {
      slotName: uniqueSlot('busy'),
      tableIncludeList: ['public.items'],
    });
    const { slotName, publicationName } = running.options;
    try {
      const pid = (await slotNamed(slotName))!.activePid!;
      const refusal = dropCdcResources({ databaseUrl: db.url, slot: slotName });
      await expect(refusal).rejects.toMatchObject({
        name: 'CdcSlotError',
        code: 'FICUS_CDC_SLOT_ACTIVE',
        slot: slotName,
        message: `replication slot '${slotName}' is active: pid ${pid} (application 'ficus cdc ${slotName}') is streaming from it; stop that connector first, then drop the slot`,
      });
      // The refusal is Postgres's own, from the drop itself: a connector that starts between a
      // check and the drop cannot slip through.
      const error = (await refusal.catch((e: unknown) => e)) as Error;
      expect(error.cause).toMatchObject({
        code: '55006',
        message: expect.stringMatching(/is active for PID \d+/) as unknown,
      });
      expect(await slotNamed(slotName)).toMatchObject({ active: true });
      expect(await publicationExists(publicationName)).toBe(true);
    } finally {
      await running.stop();
    }
  });

  it("drops a stopped connector's slot and publication, and leaves the user's publications alone", async () => {
    await db.sql('CREATE PUBLICATION bystander FOR TABLE items');
    const { slotName, publicationName } = await abandonedConnector(uniqueSlot('gone'));
    const dropped = await dropCdcResources({ databaseUrl: db.url, slot: slotName });
    expect(dropped).toEqual({
      slot: slotName,
      database: db.name,
      ficus: true,
      droppedPublications: [publicationName],
      keptPublications: [],
      deletedOffsetsFile: null,
    });
    expect(await slotNamed(slotName)).toBeUndefined();
    expect(await publicationExists(publicationName)).toBe(false);
    expect(await publicationExists('bystander')).toBe(true);
  });

  it('keeps a marked publication that another running connector still streams', async () => {
    const { slotName, publicationName } = await abandonedConnector(uniqueSlot('sharer'));
    const other = await startTestConnector(db.url, {
      slotName: uniqueSlot('sharing'),
      publicationName,
      tableIncludeList: ['public.items'],
    });
    try {
      const pid = (await slotNamed(other.options.slotName))!.activePid!;
      const dropped = await dropCdcResources({ databaseUrl: db.url, slot: slotName });
      expect(dropped).toMatchObject({
        droppedPublications: [],
        keptPublications: [
          {
            name: publicationName,
            reason: `still streamed by pid ${pid} (application 'ficus cdc ${other.options.slotName}')`,
          },
        ],
      });
      expect(await slotNamed(slotName)).toBeUndefined();
      expect(await publicationExists(publicationName)).toBe(true);
    } finally {
      await other.stop();
    }
  });

  it('refuses a slot ficus did not create unless forced, and then keeps its publication', async () => {
    await db.sql('CREATE PUBLICATION theirs FOR TABLE items');
    const { slotName } = await abandonedConnector(uniqueSlot('foreign'), {
      publicationName: 'theirs',
    });
    await expect(dropCdcResources({ databaseUrl: db.url, slot: slotName })).rejects.toMatchObject({
      code: 'FICUS_CDC_SLOT_NOT_FICUS',
      message: expect.stringMatching(
        new RegExp(`^replication slot '${slotName}' was not created by ficus .*pass --force`),
      ) as unknown,
    });
    expect(await slotNamed(slotName)).toBeDefined();

    const dropped = await dropCdcResources({ databaseUrl: db.url, slot: slotName, force: true });
    expect(dropped).toMatchObject({ ficus: false, droppedPublications: [] });
    expect(await slotNamed(slotName)).toBeUndefined();
    expect(await publicationExists('theirs')).toBe(true);
  });

  it('refuses a slot made outside ficus altogether', async () => {
    const slot = uniqueSlot('manual');
    await db.sql("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [slot]);
    await expect(dropCdcResources({ databaseUrl: db.url, slot })).rejects.toMatchObject({
      code: 'FICUS_CDC_SLOT_NOT_FICUS',
    });
    await expect(
      dropCdcResources({ databaseUrl: db.url, slot, force: true }),
    ).resolves.toMatchObject({ slot, ficus: false });
  });

  it('names the existing slots when the slot does not exist', async () => {
    const { slotName } = await abandonedConnector(uniqueSlot('present'));
    await expect(
      dropCdcResources({ databaseUrl: db.url, slot: 'no_such_slot' }),
    ).rejects.toMatchObject({
      code: 'FICUS_CDC_SLOT_NOT_FOUND',
      message: expect.stringMatching(
        new RegExp(
          `^replication slot 'no_such_slot' does not exist; the logical slots are: .*${slotName} \\(database ${db.name}\\)`,
        ),
      ) as unknown,
    });
  });

  it('refuses a slot of another database and names that database', async () => {
    const other = await createCdcDatabase();
    try {
      const slot = uniqueSlot('elsewhere');
      await other.sql("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [slot]);
      await expect(dropCdcResources({ databaseUrl: db.url, slot })).rejects.toMatchObject({
        code: 'FICUS_CDC_SLOT_OTHER_DATABASE',
        message: `replication slot '${slot}' belongs to database '${other.name}', not '${db.name}': a logical slot is dropped while connected to its own database, so run this again with a --database-url for database '${other.name}'`,
      });
      expect((await listSlots(db.url)).find((s) => s.name === slot)).toMatchObject({
        database: other.name,
        ficus: null,
      });
    } finally {
      await other.cleanup();
    }
  });

  it("deletes the slot's offsets file, and refuses another slot's", async () => {
    const offsetsFile = path.join(dir, `${counter}.json`);
    const { slotName } = await abandonedConnector(uniqueSlot('offsets'), {
      snapshotMode: 'initial',
      offsetsFile,
    });
    const { slotName: otherSlot } = await abandonedConnector(uniqueSlot('offsets_other'));

    await expect(
      dropCdcResources({ databaseUrl: db.url, slot: otherSlot, offsetsFile }),
    ).rejects.toMatchObject({
      code: 'FICUS_CDC_OFFSETS_OTHER_SLOT',
      message: expect.stringContaining(
        `belongs to slot '${slotName}', not '${otherSlot}'`,
      ) as unknown,
    });
    expect(await slotNamed(otherSlot)).toBeDefined();

    const dropped = await dropCdcResources({ databaseUrl: db.url, slot: slotName, offsetsFile });
    expect(dropped.deletedOffsetsFile).toBe(offsetsFile);
    await expect(access(offsetsFile)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('a connector whose slot was dropped but whose offsets file was left starts afresh with a snapshot', async () => {
    const offsetsFile = path.join(dir, `${counter}.json`);
    await db.sql('CREATE TABLE restarted (id int PRIMARY KEY)');
    await db.sql('INSERT INTO restarted VALUES (1)');
    const options = { tableIncludeList: ['public.restarted'], offsetsFile };
    const { slotName } = await abandonedConnector(uniqueSlot('afresh'), {
      ...options,
      snapshotMode: 'initial',
    });
    await dropCdcResources({ databaseUrl: db.url, slot: slotName });
    await db.sql('INSERT INTO restarted VALUES (2)');
    const again = await startTestConnector(db.url, { slotName, ...options });
    try {
      await again.waitFor(() => again.events().filter((e) => e.op === 'r').length === 2);
      expect(again.events().map((e) => [e.op, e.after?.id])).toEqual([
        ['r', 1],
        ['r', 2],
      ]);
    } finally {
      await again.stop();
    }
  });
});

describe('the inactive-slot warning', () => {
  let abandoned: string;
  beforeAll(async () => {
    abandoned = (await abandonedConnector(uniqueSlot('abandoned'))).slotName;
    await writeRows();
  });

  const entryFor = (status: ConnectorStatus) =>
    status.inactiveSlots.find((slot) => slot.slot === abandoned);

  it("shows an inactive ficus slot over the threshold in a running connector's /status", async () => {
    const running = await startTestConnector(db.url, {
      slotName: uniqueSlot('watcher'),
      tableIncludeList: ['public.items'],
      inactiveSlotWarnBytes: 1,
    });
    const server = await startStatusServer({ connector: running.connector, port: 0 });
    try {
      const status = (await (await fetch(`${server.url}/status`)).json()) as ConnectorStatus;
      expect(status.inactiveSlotsCheckedAt).not.toBeNull();
      const entry = entryFor(status);
      expect(entry).toMatchObject({
        slot: abandoned,
        database: db.name,
        publications: [`pub_${abandoned}`],
        dropCommand: `ficus cdc drop-slot ${abandoned}`,
      });
      expect(entry!.retainedBytes).toBeGreaterThan(1);
      expect(status.inactiveSlots.map((slot) => slot.slot)).not.toContain(running.options.slotName);
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      expect(metrics).toMatch(
        new RegExp(`ficus_cdc_inactive_slot_retained_bytes\\{slot="${abandoned}"\\} \\d+`),
      );
    } finally {
      await server.close();
      await running.stop();
    }
  });

  it('checks again while running, and drops a slot from the list once it is gone', async () => {
    const running = await startTestConnector(db.url, {
      slotName: uniqueSlot('rewatcher'),
      tableIncludeList: ['public.items'],
      inactiveSlotWarnBytes: 1,
      inactiveSlotCheckIntervalMs: 50,
    });
    try {
      const gone = (await abandonedConnector(uniqueSlot('short_lived'))).slotName;
      await writeRows(5);
      const listed = () => running.connector.status().inactiveSlots.some((s) => s.slot === gone);
      await waitUntil(listed);
      await dropCdcResources({ databaseUrl: db.url, slot: gone });
      await waitUntil(() => !listed());
    } finally {
      await running.stop();
    }
  });

  it('lists nothing under the threshold, and does not check at all with threshold 0', async () => {
    const high = await startTestConnector(db.url, {
      slotName: uniqueSlot('high'),
      tableIncludeList: ['public.items'],
      inactiveSlotWarnBytes: 1024 ** 4,
    });
    const off = await startTestConnector(db.url, {
      slotName: uniqueSlot('off'),
      tableIncludeList: ['public.items'],
      inactiveSlotWarnBytes: 0,
    });
    try {
      expect(high.connector.status().inactiveSlotsCheckedAt).not.toBeNull();
      expect(high.connector.status().inactiveSlots).toEqual([]);
      // The first check runs inside start(), so by now it would have happened.
      expect(off.connector.status()).toMatchObject({
        inactiveSlots: [],
        inactiveSlotsCheckedAt: null,
      });
    } finally {
      await Promise.all([high.stop(), off.stop()]);
    }
  });

  it("shows it in an extracted service's connector source status", async () => {
    const source = createConnectorSource({
      databaseUrl: db.url,
      tables: ['public.items'],
      slotName: uniqueSlot('service'),
      publicationName: `pub_service_${counter}`,
      topicPrefix: 'legacy',
      offsetsFile: path.join(dir, `service-${counter}.json`),
      inactiveSlotWarnBytes: 1,
    });
    await source.start(() => Promise.resolve());
    try {
      const details = source.status().details as { inactiveSlots?: { slot: string }[] };
      expect(details.inactiveSlots?.map((slot) => slot.slot)).toContain(abandoned);
    } finally {
      await source.stop();
    }
  });
});
