/**
 * The notifications service on a real connector: a seeded monolith streams its members, orders
 * and payments into the service's own database while orders are placed through the monolith's
 * HTTP API. Whatever the delivery does (every batch twice, the whole stream replayed, a batch cut
 * short by an error or a killed connection and delivered again), each order placed gets exactly
 * one `order-placed` and one `order-paid` notification and one `notification sent` log line each.
 */
import knex, { type Knex } from 'knex';
import { pino, type Logger } from 'pino';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmbeddedSink, type ChangeRecord } from '../../cdc/index.js';
import {
  createNotificationsService,
  NOTIFICATIONS_SOURCE_TABLES,
  type NotificationJson,
  type NotificationsBatchResult,
  type NotificationsService,
} from '../../extracted-services/notifications/index.js';
import {
  createLegacyApp,
  createLegacyDatabase,
  migrateLegacyDatabase,
  seedLegacyDatabase,
} from '../../legacy-monolith/index.js';
import {
  createCdcDatabase,
  startTestConnector,
  waitUntil,
  type CdcDatabase,
  type TestConnector,
} from '../cdc/harness.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';

type App = Parameters<typeof request>[0];
type LogLine = Record<string, unknown>;

/** Orders the seed writes; all of them exist before the connector starts. */
const SEEDED_ORDERS = 250;

let source: CdcDatabase;
let monolithDb: Knex;
let monolith: App;
let serviceDatabase: TestDatabase;
let serviceDb: Knex;
let service: NotificationsService;
let cdc: TestConnector;
const logs: LogLine[] = [];
/** The batches the connector delivered, as delivered. */
const delivered: ChangeRecord[][] = [];
/** What the second delivery of each batch did. */
const redeliveries: NotificationsBatchResult[] = [];
/** Orders placed through the monolith after the service started, in placement order. */
const placed: number[] = [];
const databases: TestDatabase[] = [];
const pools: Knex[] = [];

/** A pino logger writing every line, parsed, into `lines`. */
function captureLogger(lines: LogLine[]): Logger {
  return pino(
    { level: 'info' },
    {
      write(line: string) {
        lines.push(JSON.parse(line) as LogLine);
      },
    },
  );
}

function sentLines(lines: readonly LogLine[]): LogLine[] {
  return lines.filter((line) => line['msg'] === 'notification sent');
}

async function placeOrder(memberId: number, productIds: readonly number[]): Promise<number> {
  const res = await request(monolith)
    .post('/orders')
    .send({ memberId, items: productIds.map((productId) => ({ productId, quantity: 1 })) });
  expect(res.status, res.text).toBe(201);
  return (res.body as { id: number }).id;
}

interface NotificationRecord {
  id: number;
  kind: string;
  order_id: number;
  member_id: number;
  recipient: string | null;
  message: string;
}

async function notificationsIn(db: Knex): Promise<NotificationRecord[]> {
  return db('notifications')
    .orderBy('id')
    .select<NotificationRecord[]>('id', 'kind', 'order_id', 'member_id', 'recipient', 'message');
}

async function count(db: Knex, table: string): Promise<number> {
  const [row] = await db(table).count<{ total: string }[]>({ total: '*' });
  return Number(row?.total);
}

/** `kind`s per order, sorted, for every order that has a notification. */
function kindsByOrder(rows: readonly NotificationRecord[]): Record<number, string[]> {
  const out: Record<number, string[]> = {};
  for (const row of rows) (out[row.order_id] ??= []).push(row.kind);
  for (const kinds of Object.values(out)) kinds.sort();
  return out;
}

/** One `order-paid` and one `order-placed` for each order placed, and nothing else. */
function expectedKinds(): Record<number, string[]> {
  return Object.fromEntries(placed.map((id) => [id, ['order-paid', 'order-placed']]));
}

/** Each `notification sent` line matches one recorded notification, and every one has a line. */
function expectLinesMatch(lines: readonly LogLine[], rows: readonly NotificationRecord[]): void {
  const sent = sentLines(lines).map((line) => ({
    id: line['notificationId'],
    kind: line['kind'],
    order_id: line['orderId'],
    member_id: line['memberId'],
    recipient: line['recipient'],
    message: line['message'],
  }));
  expect(sent.sort((a, b) => Number(a.id) - Number(b.id))).toEqual(rows);
}

const CARRIED_QUERIES = {
  members: (db: Knex) => db('members').orderBy('id').select('id', 'email', 'name'),
  orders: (db: Knex) =>
    db('orders')
      .orderBy('id')
      .select('id', 'member_id', 'status', 'total', 'created_at', 'updated_at'),
  payments: (db: Knex) =>
    db('payments')
      .orderBy('id')
      .select('id', 'order_id', 'member_id', 'amount', 'status', 'created_at'),
};

async function expectCarriedEqualToSource(db: Knex): Promise<void> {
  for (const [table, query] of Object.entries(CARRIED_QUERIES)) {
    const [local, theirs] = await Promise.all([query(db), query(monolithDb)]);
    expect({ table, rows: local }).toEqual({ table, rows: theirs });
  }
}

/** A pool on `url`, destroyed after the file (or earlier, by a test that stops a process). */
function openPool(url: string): Knex {
  const db = knex({ client: 'pg', connection: url, pool: { min: 0, max: 4 } });
  pools.push(db);
  return db;
}

/** A new empty database with the service's schema, for a scenario of its own. */
async function freshDatabase(): Promise<{ url: string; db: Knex }> {
  const database = await createTestDatabase('notifications');
  databases.push(database);
  const db = openPool(database.url);
  await createNotificationsService({ db }).migrate();
  // These scenarios replay a stream recorded before the database existed and must notify for it.
  await db('notify_since').update({ since: new Date(0) });
  return { url: database.url, db };
}

type CrashHow = 'raise' | 'kill';
type CrashWhen = 'recording' | 'commit';

/**
 * Makes the transaction that records the `order-paid` notification of `orderId` fail, `when` the
 * row is inserted (in the middle of the batch's reactions) or at commit (after every reaction and
 * the consumer's progress were written), `how`: with an error that says how many notifications the
 * transaction had recorded by then, or by killing the connection. `pg_sleep` only gives the
 * termination a point to take effect; it returns at once when the backend is terminated.
 */
async function installCrash(
  db: Knex,
  orderId: number,
  how: CrashHow,
  when: CrashWhen,
): Promise<void> {
  const action =
    how === 'raise'
      ? `RAISE EXCEPTION 'crash after % notifications', (SELECT count(*) FROM notifications)`
      : 'PERFORM pg_terminate_backend(pg_backend_pid()); PERFORM pg_sleep(30)';
  await db.raw(`
    CREATE FUNCTION crash() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.kind = 'order-paid' AND NEW.order_id = ${orderId} THEN ${action}; END IF;
      RETURN NEW;
    END $$`);
  await db.raw(
    when === 'recording'
      ? 'CREATE TRIGGER crash BEFORE INSERT ON notifications FOR EACH ROW EXECUTE FUNCTION crash()'
      : `CREATE CONSTRAINT TRIGGER crash AFTER INSERT ON notifications
         DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION crash()`,
  );
}

async function removeCrash(db: Knex): Promise<void> {
  await db.raw('DROP TRIGGER crash ON notifications');
  await db.raw('DROP FUNCTION crash()');
}

/** The index of the first delivered batch that holds the payment of `orderId`. */
function batchWithPaymentOf(orderId: number): number {
  const index = delivered.findIndex((batch) =>
    batch.some((record) => {
      const value = record.value;
      return (
        value !== null &&
        'op' in value &&
        value.op === 'c' &&
        value.source.table === 'payments' &&
        value.after?.['order_id'] === orderId
      );
    }),
  );
  expect(index).toBeGreaterThan(0);
  return index;
}

beforeAll(async () => {
  source = await createCdcDatabase();
  monolithDb = createLegacyDatabase(source.url);
  await migrateLegacyDatabase(monolithDb);
  await seedLegacyDatabase(monolithDb);
  monolith = createLegacyApp({ db: monolithDb });

  serviceDatabase = await createTestDatabase('notifications');
  serviceDb = knex({ client: 'pg', connection: serviceDatabase.url, pool: { min: 0, max: 5 } });
  service = createNotificationsService({ db: serviceDb, logger: captureLogger(logs) });
  await service.migrate();

  cdc = await startTestConnector(source.url, {
    tableIncludeList: [...service.sourceTables],
    sink: createEmbeddedSink([
      async (batch) => {
        delivered.push([...batch]);
        await service.handle(batch);
        redeliveries.push(await service.handle(batch));
      },
    ]),
  });
  await waitUntil(async () => (await count(serviceDb, 'orders')) === SEEDED_ORDERS);

  // Cheap products in stock, and members with the largest balances, so every order succeeds.
  const products = await monolithDb('products')
    .where('stock', '>=', 5)
    .orderBy([{ column: 'price' }, { column: 'id' }])
    .limit(6)
    .pluck<number[]>('id');
  const members = await monolithDb('members')
    .orderBy([{ column: 'balance', order: 'desc' }, { column: 'id' }])
    .limit(4)
    .pluck<number[]>('id');
  const [a, b, c, d, e, f] = products;
  const [m1, m2, m3, m4] = members;
  placed.push(await placeOrder(m1!, [a!]));
  placed.push(await placeOrder(m2!, [b!, c!]));
  placed.push(await placeOrder(m1!, [d!]));
  // Concurrent checkouts interleave in the WAL.
  placed.push(
    ...(await Promise.all([
      placeOrder(m3!, [e!]),
      placeOrder(m4!, [f!, a!]),
      placeOrder(m2!, [c!]),
      placeOrder(m3!, [b!, d!, e!]),
    ])),
  );
  // A refused order (a member with a zero balance) leaves no trace in the monolith.
  const refused = await request(monolith)
    .post('/orders')
    .send({ memberId: 13, items: [{ productId: a, quantity: 1 }] });
  expect(refused.status).toBe(409);

  await waitUntil(
    async () => (await count(serviceDb, 'notifications')) === 2 * placed.length,
    10_000,
    () => `; ${placed.length} orders placed`,
  );
  // The last batch's redelivery has finished too.
  await waitUntil(() => redeliveries.length === delivered.length);
});

afterAll(async () => {
  await cdc?.stop();
  for (const pool of pools) await pool.destroy();
  for (const database of databases) await database.drop();
  await serviceDb?.destroy();
  await serviceDatabase?.drop();
  await monolithDb?.destroy();
  await source?.cleanup();
});

describe('notifications with every batch delivered twice', () => {
  it('names the monolith tables a connector must include', () => {
    expect(service.name).toBe('notifications');
    expect(service.sourceTables).toEqual(NOTIFICATIONS_SOURCE_TABLES);
    expect(service.sourceTables).toEqual(['public.members', 'public.orders', 'public.payments']);
    expect(service.mappings.map((m) => m.source)).toEqual(service.sourceTables);
  });

  it('notifies nothing for the orders that existed before it started', async () => {
    expect(await count(serviceDb, 'orders')).toBe(SEEDED_ORDERS + placed.length);
    expect(placed.every((id) => id > SEEDED_ORDERS)).toBe(true);
    const rows = await notificationsIn(serviceDb);
    expect(rows.filter((row) => row.order_id <= SEEDED_ORDERS)).toEqual([]);
  });

  it('records one order-placed and one order-paid per order, addressed to its member', async () => {
    const rows = await notificationsIn(serviceDb);
    expect(kindsByOrder(rows)).toEqual(expectedKinds());
    const orders = await monolithDb('orders as o')
      .join('members as m', 'm.id', 'o.member_id')
      .whereIn('o.id', placed)
      .select<{ id: number; member_id: number; total: string; email: string; name: string }[]>(
        'o.id',
        'o.member_id',
        'o.total',
        'm.email',
        'm.name',
      );
    const expected = orders.flatMap((order) => [
      {
        kind: 'order-placed',
        order_id: order.id,
        member_id: order.member_id,
        recipient: order.email,
        message: `Hi ${order.name}, we have received your order #${order.id} (total ${order.total}).`,
      },
      {
        kind: 'order-paid',
        order_id: order.id,
        member_id: order.member_id,
        recipient: order.email,
        message: `Hi ${order.name}, your payment of ${order.total} for order #${order.id} has been captured.`,
      },
    ]);
    const byKey = (x: { kind: string; order_id: number }) => `${x.order_id}/${x.kind}`;
    expect(
      rows.map(({ id: _id, ...rest }) => rest).sort((x, y) => (byKey(x) < byKey(y) ? -1 : 1)),
    ).toEqual(expected.sort((x, y) => (byKey(x) < byKey(y) ? -1 : 1)));
  });

  it('logs one notification sent line per notification recorded', async () => {
    expectLinesMatch(logs, await notificationsIn(serviceDb));
  });

  it('applies and sends nothing on the second delivery of a batch', () => {
    expect(redeliveries.length).toBe(delivered.length);
    expect(redeliveries.map((r) => ({ applied: r.applied, sent: r.sent }))).toEqual(
      redeliveries.map(() => ({ applied: 0, sent: [] })),
    );
    expect(redeliveries.reduce((sum, r) => sum + r.skipped, 0)).toBeGreaterThan(SEEDED_ORDERS);
  });

  it('ends with carried tables equal to the source', async () => {
    await expectCarriedEqualToSource(serviceDb);
  });

  it('does not notify a payment again when the monolith records it anew', async () => {
    const orderId = placed[0]!;
    await monolithDb.transaction(async (trx) => {
      const [payment] = await trx('payments')
        .where({ order_id: orderId })
        .del()
        .returning<Record<string, unknown>[]>('*');
      const { id: _id, ...again } = payment!;
      await trx('payments').insert(again);
    });
    const newest = await monolithDb('payments').max<{ max: number }>('id as max').first();
    await waitUntil(
      async () => (await serviceDb('payments').where({ id: newest!.max })).length > 0,
    );
    await waitUntil(() => redeliveries.length === delivered.length);
    const rows = await notificationsIn(serviceDb);
    expect(kindsByOrder(rows)).toEqual(expectedKinds());
    expectLinesMatch(logs, rows);
    await expectCarriedEqualToSource(serviceDb);
  });
});

describe('replaying the whole stream', () => {
  it('sends nothing from a new instance on the existing database, batch by batch or at once', async () => {
    const before = await notificationsIn(serviceDb);
    const lines: LogLine[] = [];
    const restarted = createNotificationsService({ db: serviceDb, logger: captureLogger(lines) });
    await restarted.migrate();
    const sent: NotificationJson[] = [];
    for (const batch of delivered) sent.push(...(await restarted.handle(batch)).sent);
    sent.push(...(await restarted.handle(delivered.flat())).sent);
    expect(sent).toEqual([]);
    expect(sentLines(lines)).toEqual([]);
    expect(await notificationsIn(serviceDb)).toEqual(before);
    await expectCarriedEqualToSource(serviceDb);
  });

  it('stays quiet about orders committed before its database was created', async () => {
    const database = await createTestDatabase('notifications');
    databases.push(database);
    const db = openPool(database.url);
    const lines: LogLine[] = [];
    const late = createNotificationsService({ db, logger: captureLogger(lines) });
    await late.migrate();
    for (const batch of delivered) await late.handle(batch);
    expect(await notificationsIn(db)).toEqual([]);
    expect(sentLines(lines)).toEqual([]);
    await expectCarriedEqualToSource(db);
  });

  it('holds a notification whose member has not arrived yet, and sends it when they do', async () => {
    // With Kafka each table is its own topic: orders and payments can come before the members.
    const { db } = await freshDatabase();
    const lines: LogLine[] = [];
    const fresh = createNotificationsService({ db, logger: captureLogger(lines) });
    const records = delivered.flat();
    const isMember = (r: ChangeRecord) => r.topic.endsWith('.members');
    await fresh.handle(records.filter((r) => !isMember(r)));
    expect(await notificationsIn(db)).toEqual([]);
    expect(sentLines(lines)).toEqual([]);
    // Placed and paid, for every order placed during the test.
    expect(await count(db, 'notifications_waiting')).toBe(placed.length * 2);

    await fresh.handle(records.filter(isMember));
    const rows = await notificationsIn(db);
    expect(kindsByOrder(rows)).toEqual(expectedKinds());
    expect(rows.every((row) => row.recipient !== null && !row.message.startsWith('Hello'))).toBe(
      true,
    );
    expectLinesMatch(lines, rows);
    expect(await count(db, 'notifications_waiting')).toBe(0);
    await expectCarriedEqualToSource(db);
  });

  it('sends each notification once on a new database fed the stream from the start, twice over', async () => {
    const { db } = await freshDatabase();
    const lines: LogLine[] = [];
    const fresh = createNotificationsService({ db, logger: captureLogger(lines) });
    for (const batch of [...delivered, ...delivered]) await fresh.handle(batch);
    const rows = await notificationsIn(db);
    expect(kindsByOrder(rows)).toEqual(expectedKinds());
    expectLinesMatch(lines, rows);
    await expectCarriedEqualToSource(db);
  });
});

describe('a batch cut short', () => {
  it.each<[string, CrashHow, CrashWhen]>([
    ['an error', 'raise', 'recording'],
    ['an error', 'raise', 'commit'],
    ['a killed connection', 'kill', 'recording'],
    ['a killed connection', 'kill', 'commit'],
  ])(
    'leaves no trace when %s ends the batch (%s, at %s), and sends once on redelivery',
    async (_what, how, when) => {
      const { url, db: crashed } = await freshDatabase();
      const crashOrder = placed[2]!;
      const crashBatch = batchWithPaymentOf(crashOrder);
      await installCrash(crashed, crashOrder, how, when);
      const lines: LogLine[] = [];
      const first = createNotificationsService({ db: crashed, logger: captureLogger(lines) });
      for (const batch of delivered.slice(0, crashBatch)) await first.handle(batch);
      const committed = await notificationsIn(crashed);
      const progress = await first.carried.progress('notifications');
      expect(committed.map((row) => row.order_id)).not.toContain(crashOrder);

      const error = await first.handle(delivered[crashBatch]!).then(
        () => null,
        (e: unknown) => e,
      );
      if (how === 'raise') {
        const recorded = Number(/crash after (\d+) notifications/.exec(String(error))?.[1]);
        // At least the order-placed of the crashing order was recorded in the transaction.
        expect(recorded).toBeGreaterThan(committed.length);
      } else {
        expect(String(error)).toMatch(/terminat|Connection ended/i);
      }
      // The process stops with the failed batch; a restarted one opens a new pool.
      await crashed.destroy();
      const db = openPool(url);
      const restarted = createNotificationsService({ db, logger: captureLogger(lines) });
      expect(await notificationsIn(db)).toEqual(committed);
      expect(await restarted.carried.progress('notifications')).toEqual(progress);
      expect(await db('orders').where({ id: crashOrder })).toEqual([]);
      expectLinesMatch(lines, committed);

      // Restarted, the consumer resumes from an earlier position: the batch before the crash
      // arrives again, then the rest.
      await removeCrash(db);
      for (const batch of delivered.slice(crashBatch - 1)) await restarted.handle(batch);
      const rows = await notificationsIn(db);
      expect(kindsByOrder(rows)).toEqual(expectedKinds());
      expectLinesMatch(lines, rows);
      await expectCarriedEqualToSource(db);
    },
  );

  it('rolls back a whole stream applied as one batch when the connection dies, and sends once on redelivery', async () => {
    const { url, db: crashed } = await freshDatabase();
    await installCrash(crashed, placed[2]!, 'kill', 'recording');
    const lines: LogLine[] = [];
    const first = createNotificationsService({ db: crashed, logger: captureLogger(lines) });

    // Hundreds of carried rows and several notifications are written before the kill.
    await expect(first.handle(delivered.flat())).rejects.toThrow(/terminat|Connection ended/i);
    await crashed.destroy();
    const db = openPool(url);
    const service = createNotificationsService({ db, logger: captureLogger(lines) });
    expect(await count(db, 'notifications')).toBe(0);
    expect(await count(db, 'orders')).toBe(0);
    expect(await service.carried.progress('notifications')).toBeNull();
    expect(sentLines(lines)).toEqual([]);

    await removeCrash(db);
    for (const batch of delivered) await service.handle(batch);
    const rows = await notificationsIn(db);
    expect(kindsByOrder(rows)).toEqual(expectedKinds());
    expectLinesMatch(lines, rows);
    await expectCarriedEqualToSource(db);
  });
});

describe('notifications API', () => {
  let all: NotificationJson[];

  beforeAll(async () => {
    const res = await request(service.app).get('/notifications?limit=100');
    expect(res.status).toBe(200);
    all = (res.body as { items: NotificationJson[] }).items;
  });

  it('lists notifications newest first', async () => {
    const rows = await notificationsIn(serviceDb);
    expect(all.map((n) => n.id)).toEqual(rows.map((row) => row.id).reverse());
    expect(all[0]).toEqual({
      id: rows.at(-1)!.id,
      kind: rows.at(-1)!.kind,
      orderId: rows.at(-1)!.order_id,
      memberId: rows.at(-1)!.member_id,
      recipient: rows.at(-1)!.recipient,
      message: rows.at(-1)!.message,
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/) as string,
    });
  });

  it('filters by member and limits the list', async () => {
    const memberId = all.at(-1)!.memberId;
    const res = await request(service.app).get(`/notifications?member_id=${memberId}&limit=2`);
    expect(res.status).toBe(200);
    expect((res.body as { items: NotificationJson[] }).items).toEqual(
      all.filter((n) => n.memberId === memberId).slice(0, 2),
    );
    const none = await request(service.app).get('/notifications?member_id=2147483647');
    expect(none.body).toEqual({ items: [] });
    const defaults = await request(service.app).get('/notifications');
    expect((defaults.body as { items: unknown[] }).items).toEqual(all.slice(0, 20));
  });

  it('answers one notification by id', async () => {
    const one = all[3]!;
    const res = await request(service.app).get(`/notifications/${one.id}`);
    expect({ status: res.status, body: res.body as unknown }).toEqual({ status: 200, body: one });
  });

  it.each([
    [
      '/notifications?member_id=abc',
      400,
      'VALIDATION_FAILED',
      'member_id',
      'member_id must be an integer from 1 to 2147483647, got "abc"',
    ],
    [
      '/notifications?member_id=0',
      400,
      'VALIDATION_FAILED',
      'member_id',
      'member_id must be an integer from 1 to 2147483647, got "0"',
    ],
    [
      '/notifications?member_id=1&member_id=2',
      400,
      'VALIDATION_FAILED',
      'member_id',
      'member_id must be an integer from 1 to 2147483647, got ["1","2"]',
    ],
    [
      '/notifications?limit=101',
      400,
      'VALIDATION_FAILED',
      'limit',
      'limit must be an integer from 1 to 100, got "101"',
    ],
    [
      '/notifications?limit=',
      400,
      'VALIDATION_FAILED',
      'limit',
      'limit must be an integer from 1 to 100, got ""',
    ],
    [
      '/notifications/1.5',
      400,
      'VALIDATION_FAILED',
      'id',
      'id must be an integer from 1 to 2147483647, got "1.5"',
    ],
    ['/notifications/2147483647', 404, 'NOT_FOUND', undefined, 'notification 2147483647 not found'],
    ['/nope', 404, 'NOT_FOUND', undefined, 'no route for GET /nope'],
  ])('answers %s with %i %s', async (path, status, code, field, message) => {
    const res = await request(service.app).get(path);
    expect({ status: res.status, body: res.body as unknown }).toEqual({
      status,
      body: { error: { code, message, ...(field === undefined ? {} : { field }) } },
    });
  });
});
