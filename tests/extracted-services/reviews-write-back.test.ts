/**
 * Reviews flowing both ways: the monolith's CDC feeds the reviews service, and the write-back
 * copies the reviews the service takes into the monolith under a replication origin. Checks that
 * the service's reviews reach the monolith (and its rating summary), that their echo through the
 * monolith's CDC is recognised and dropped, that an echo never undoes a newer local edit, that a
 * restarted write-back writes nothing twice, and that the monolith's own reviews still reach the
 * service and never come back.
 */
import { randomBytes } from 'node:crypto';
import knex, { type Knex } from 'knex';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createEmbeddedSink,
  isChangeEventValue,
  parseLsn,
  recordOrigin,
  type ChangeRecord,
} from '../../cdc/index.js';
import {
  createReviewsService,
  SERVICE_REVIEW_IDS,
  startReviewsWriteBack,
  WRITTEN_BY_SERVICE,
  type ReviewJson,
  type ReviewsApplyResult,
  type ReviewsService,
  type ReviewsWriteBack,
} from '../../extracted-services/reviews/index.js';
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

type App = Parameters<typeof request>[0];

/** Replication origins belong to the cluster, which other test files share: a name of our own. */
const origin = `ficus_reviews_test_${randomBytes(4).toString('hex')}`;
const slotName = `reviews_wb_${randomBytes(4).toString('hex')}`;
/** A copy of the write-back's slot, taken before a write, to hand that write over again. */
const replaySlot = `${slotName}_replay`;
/** How long a review may take to reach the other side. */
const FLOW_TIMEOUT_MS = 10_000;

let source: CdcDatabase;
let monolithDb: Knex;
let monolith: App;
let serviceDatabase: CdcDatabase;
let reviewsDb: Knex;
let service: ReviewsService;
let cdc: TestConnector;
let writeBack: ReviewsWriteBack | undefined;

/** Every record the monolith's connector handed over, before the gate. */
const arrived: ChangeRecord[] = [];
/** What `handle` did with each batch, in order. */
const handled: { batch: readonly ChangeRecord[]; result: ReviewsApplyResult }[] = [];
/** Holds the monolith's CDC back while closed. */
let gate: Promise<void> = Promise.resolve();
let openGate: () => void = () => undefined;

function closeGate(): void {
  gate = new Promise((resolve) => (openGate = resolve));
}

async function get(app: App, path: string): Promise<{ status: number; text: string }> {
  const res = await request(app).get(path);
  return { status: res.status, text: res.text };
}

async function expectIdentical(paths: readonly string[]): Promise<void> {
  for (const path of paths)
    expect({ path, ...(await get(service.app, path)) }).toEqual({
      path,
      ...(await get(monolith, path)),
    });
}

async function waitForIdentical(paths: readonly string[]): Promise<void> {
  let differing: string[] = [];
  await waitUntil(
    async () => {
      differing = [];
      for (const path of paths)
        if ((await get(service.app, path)).text !== (await get(monolith, path)).text)
          differing.push(path);
      return differing.length === 0;
    },
    FLOW_TIMEOUT_MS,
    () => `; still differing: ${differing.join(', ')}`,
  );
}

interface MonolithReview {
  id: number;
  product_id: number;
  member_id: number;
  rating: number;
  title: string;
  body: string;
  created_at: Date;
}

async function monolithReview(id: number): Promise<MonolithReview | undefined> {
  return monolithDb('reviews')
    .where({ id })
    .first<MonolithReview | undefined>(
      'id',
      'product_id',
      'member_id',
      'rating',
      'title',
      'body',
      'created_at',
    );
}

/** The monolith's change records for review `id` that carry the write-back's origin. */
function echoesOf(id: number): ChangeRecord[] {
  return arrived.filter(
    (r) => isChangeEventValue(r.value) && r.value.after?.id === id && recordOrigin(r) === origin,
  );
}

/** Totals of `handle` results from batch `from` on. */
function handledSince(from: number): { applied: number; echoes: number } {
  return handled.slice(from).reduce(
    (sum, { result }) => ({
      applied: sum.applied + result.applied,
      echoes: sum.echoes + result.echoes,
    }),
    { applied: 0, echoes: 0 },
  );
}

async function originProgress(): Promise<string | null> {
  const { rows } = await source.sql(
    'SELECT pg_replication_origin_progress($1, true)::text AS lsn',
    [origin],
  );
  return (rows[0] as { lsn: string | null }).lsn;
}

function startWriteBack(slot = slotName): Promise<ReviewsWriteBack> {
  return startReviewsWriteBack({
    serviceDatabaseUrl: serviceDatabase.url,
    monolithDatabaseUrl: source.url,
    slotName: slot,
    publicationName: slotName,
    originName: origin,
  });
}

async function post(
  productId: number,
  body: Record<string, unknown>,
  app: App = service.app,
): Promise<ReviewJson> {
  const res = await request(app).post(`/products/${productId}/reviews`).send(body);
  expect(res.status).toBe(201);
  return res.body as ReviewJson;
}

beforeAll(async () => {
  source = await createCdcDatabase();
  monolithDb = createLegacyDatabase(source.url);
  await migrateLegacyDatabase(monolithDb);
  await seedLegacyDatabase(monolithDb);
  monolith = createLegacyApp({ db: monolithDb });

  serviceDatabase = await createCdcDatabase();
  reviewsDb = knex({ client: 'pg', connection: serviceDatabase.url, pool: { min: 0, max: 5 } });
  service = createReviewsService({ db: reviewsDb, writeBackOrigin: origin });
  await service.migrate();

  cdc = await startTestConnector(source.url, {
    tableIncludeList: [...service.sourceTables],
    sink: createEmbeddedSink([
      async (batch) => {
        arrived.push(...batch);
        await gate;
        handled.push({ batch, result: await service.handle(batch) });
      },
    ]),
  });
  await waitForIdentical(['/products/1/reviews?pageSize=100', '/products/300/reviews']);
  writeBack = await startWriteBack();
});

afterAll(async () => {
  openGate();
  await writeBack?.close();
  await cdc?.stop();
  await reviewsDb?.destroy();
  await serviceDatabase?.cleanup();
  await monolithDb?.destroy();
  await source
    ?.sql('SELECT pg_replication_origin_drop($1) WHERE pg_replication_origin_oid($1) IS NOT NULL', [
      origin,
    ])
    .catch(() => undefined);
  await source?.cleanup();
});

describe('reviews write-back', () => {
  let first: ReviewJson;

  it('writes a review posted to the service into the monolith, and its rating, within 10 s', async () => {
    expect(JSON.parse((await get(monolith, '/products/13')).text)).toMatchObject({
      rating: { average: null, count: 0 },
    });
    const started = Date.now();
    first = await post(13, { memberId: 2, rating: 4, title: 'Sturdy', body: 'Holds up ✓' });
    expect(first.id).toBeGreaterThanOrEqual(SERVICE_REVIEW_IDS.first);

    await waitUntil(async () => (await monolithReview(first.id)) !== undefined, FLOW_TIMEOUT_MS);
    expect(Date.now() - started).toBeLessThan(FLOW_TIMEOUT_MS);
    expect(await monolithReview(first.id)).toEqual({
      id: first.id,
      product_id: 13,
      member_id: 2,
      rating: 4,
      title: 'Sturdy',
      body: 'Holds up ✓',
      created_at: new Date(first.createdAt),
    });
    expect(JSON.parse((await get(monolith, '/products/13')).text)).toMatchObject({
      rating: { average: '4.00', count: 1 },
    });
    await expectIdentical(['/products/13/reviews']);

    // Postgres recorded how far the write-back got, in the monolith's own commit.
    const status = writeBack!.status();
    expect(status).toMatchObject({ transactionsApplied: 1, changesApplied: 1, origin });
    await waitUntil(async () => (await originProgress()) === status.appliedLsn);
  });

  it('drops the echo of the write-back through the monolith CDC: no loop', async () => {
    await waitUntil(() => echoesOf(first.id).length > 0, FLOW_TIMEOUT_MS);
    const mark = handled.length;
    // A review written by the monolith itself, after the echo: once it is in, the echo was handled.
    const own = await post(
      33,
      { memberId: 5, rating: 2, title: 'Meh', body: 'Wobbles.' },
      monolith,
    );
    await waitForIdentical(['/products/33/reviews']);
    // Since the mark, one monolith change was applied (its own review); the echo, whenever it
    // was handled, was dropped rather than applied.
    expect(handledSince(mark).applied).toBe(1);
    expect(handledSince(0).echoes).toBe(1);
    expect(
      await reviewsDb('reviews').where({ id: first.id }).first<{ written_by: string }>(),
    ).toMatchObject({ written_by: WRITTEN_BY_SERVICE });

    // The monolith's review was carried, not taken: the write-back leaves it where it is.
    await waitUntil(() => writeBack!.status().changesIgnored >= 1, FLOW_TIMEOUT_MS);
    expect(writeBack!.status()).toMatchObject({ transactionsApplied: 1, changesIgnored: 1 });
    expect(own.id).toBeLessThan(SERVICE_REVIEW_IDS.first);
  });

  let second: ReviewJson;

  it('keeps a newer edit in the service when the echo of an older one arrives', async () => {
    // The write-back's slot as it stands before this review, to hand it over again later.
    await serviceDatabase.sql('SELECT pg_copy_logical_replication_slot($1, $2)', [
      slotName,
      replaySlot,
    ]);
    closeGate();
    const mark = handled.length;
    second = await post(23, { memberId: 7, rating: 5, title: 'First take', body: 'Love it.' });
    await waitUntil(async () => (await monolithReview(second.id)) !== undefined, FLOW_TIMEOUT_MS);
    await waitUntil(() => echoesOf(second.id).length > 0, FLOW_TIMEOUT_MS);
    expect(handled.length).toBe(mark);
    await writeBack!.close();
    writeBack = undefined;

    // The service edits its review while the echo of the first version is still on its way.
    await reviewsDb('reviews').where({ id: second.id }).update({ rating: 2, title: 'Second take' });
    openGate();
    await waitUntil(() => handled.some(({ batch }) => batch.includes(echoesOf(second.id)[0]!)));
    const { items: list } = JSON.parse(
      (await get(service.app, '/products/23/reviews?pageSize=100')).text,
    ) as {
      items: ReviewJson[];
    };
    expect(list.find((r) => r.id === second.id)).toMatchObject({
      rating: 2,
      title: 'Second take',
    });
    expect(handledSince(mark)).toEqual({ applied: 0, echoes: 1 });
    expect(await monolithReview(second.id)).toMatchObject({ rating: 5, title: 'First take' });
  });

  it('skips after a restart what it already wrote, and writes what it had not', async () => {
    // The copy hands over the first version again, then the edit.
    writeBack = await startWriteBack(replaySlot);
    await waitUntil(
      async () => (await monolithReview(second.id))?.title === 'Second take',
      FLOW_TIMEOUT_MS,
    );
    // One write for the edit and none for the first version again: in the monolith's WAL the
    // review was inserted and updated once (a second upsert of the first version would come
    // between the two).
    const titles = () =>
      echoesOf(second.id)
        .map((r) => r.value)
        .filter(isChangeEventValue)
        .map((value) => `${value.op}:${JSON.stringify(value.after?.title)}`);
    await waitUntil(() => titles().includes('u:"Second take"'), FLOW_TIMEOUT_MS);
    expect(titles()).toEqual(['c:"First take"', 'u:"Second take"']);
    expect(await monolithReview(second.id)).toMatchObject({ rating: 2, title: 'Second take' });
    const status = writeBack.status();
    expect(status.transactionsSkipped).toBeGreaterThanOrEqual(1);
    expect(status).toMatchObject({ transactionsApplied: 1, changesApplied: 1 });
    await waitUntil(async () => {
      const progress = await originProgress();
      return progress !== null && parseLsn(progress) === parseLsn(status.appliedLsn!);
    });
    await waitForIdentical(['/products/23/reviews?pageSize=100', '/products/13/reviews']);
    expect(
      await reviewsDb('reviews').where({ id: second.id }).first<{ written_by: string }>(),
    ).toMatchObject({ written_by: WRITTEN_BY_SERVICE, rating: 2 });
  });

  it("still carries the monolith's own reviews and never writes them back", async () => {
    const before = writeBack!.status();
    const own = await post(43, { memberId: 9, rating: 3, title: 'Fine', body: 'Okay.' }, monolith);
    const xmin = (
      await source.sql('SELECT xmin::text AS xmin FROM reviews WHERE id = $1', [own.id])
    ).rows[0] as { xmin: string };
    await waitForIdentical(['/products/43/reviews?pageSize=100']);
    await waitUntil(
      () => writeBack!.status().changesIgnored > before.changesIgnored,
      FLOW_TIMEOUT_MS,
    );
    expect(writeBack!.status()).toMatchObject({
      transactionsApplied: before.transactionsApplied,
      changesApplied: before.changesApplied,
    });
    expect(
      (await source.sql('SELECT xmin::text AS xmin FROM reviews WHERE id = $1', [own.id])).rows[0],
    ).toEqual(xmin);
    await expectIdentical([
      '/products/13/reviews',
      '/products/23/reviews?pageSize=100',
      '/products/33/reviews',
      '/products/43/reviews?pageSize=100',
    ]);
  });
});
