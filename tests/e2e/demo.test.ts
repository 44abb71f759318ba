import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { processesMatching, spawnFicus, type FicusProcess } from '../support/cli.js';

const dataDir = await mkdtemp(path.join(tmpdir(), 'ficus-demo-'));
await chmod(dataDir, 0o755);
const running: FicusProcess[] = [];

async function startDemo(): Promise<{
  demo: FicusProcess;
  legacyUrl: string;
  cdcUrl: string;
  gatewayUrl: string;
  serviceUrls: Record<string, string>;
}> {
  const demo = spawnFicus([
    'demo',
    '--data-dir',
    dataDir,
    '--legacy-port',
    '0',
    '--cdc-status-port',
    '0',
    '--gateway-port',
    '0',
    '--services-port',
    '0',
  ]);
  running.push(demo);
  const [, gatewayUrl] = await demo.waitFor(/gateway\s+(http:\/\/\S+)/);
  const [, legacyUrl] = await demo.waitFor(/legacy monolith\s+(http:\/\/\S+)/);

  const [, cdcUrl] = await demo.waitFor(/CDC status\s+(http:\/\/\S+)\/status/);
  await demo.waitFor(/Ctrl-C stops everything/);
  const serviceUrls = Object.fromEntries(
    [...demo.output().matchAll(/(\w+) service\s+(http:\/\/\S+)/g)].map((m) => [m[1]!, m[2]!]),
  );
  return { demo, legacyUrl: legacyUrl!, cdcUrl: cdcUrl!, gatewayUrl: gatewayUrl!, serviceUrls };
}

interface CdcStatus {
  state: string;
  tables: Record<string, Record<string, number>>;
  snapshot: { completed: boolean; rows: number };
}

async function cdcStatus(cdcUrl: string): Promise<CdcStatus> {
  return (await (await fetch(`${cdcUrl}/status`)).json()) as CdcStatus;
}

interface Page {
  items: { title: string }[];
  total: number;
}

async function json(url: string, init?: RequestInit): Promise<{ status: number; body: Page }> {
  const response = await fetch(url, init);
  return { status: response.status, body: (await response.json()) as Page };
}

afterAll(async () => {
  for (const demo of running) demo.child.kill('SIGKILL');
  for (const pid of await processesMatching(dataDir)) process.kill(pid, 'SIGKILL');
  await rm(dataDir, { recursive: true, force: true });
});

describe('ficus demo (npm start)', () => {
  it('starts Postgres and the seeded monolith, stops on Ctrl-C leaving no process, and keeps its data', async () => {
    const first = await startDemo();
    const products = await json(`${first.legacyUrl}/products`);
    expect(products.status).toBe(200);
    expect(products.body.items).toHaveLength(20);
    expect(products.body.total).toBeGreaterThanOrEqual(300);

    const review = await json(`${first.legacyUrl}/products/1/reviews`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        memberId: 1,
        rating: 5,
        title: 'kept across restarts',
        body: 'still here',
      }),
    });
    expect(review.status).toBe(201);

    // The gateway answers from the monolith while every route is on legacy.
    const throughGateway = await json(`${first.gatewayUrl}/products`);
    expect(throughGateway.status).toBe(200);
    expect(throughGateway.body).toEqual((await json(`${first.legacyUrl}/products`)).body);

    // CDC snapshotted the seeded tables and streams new changes.

    const status = await cdcStatus(first.cdcUrl);
    expect(status.state).toBe('streaming');
    expect(status.snapshot.completed).toBe(true);
    expect(status.tables['public.products']?.r).toBe(products.body.total);
    await expect
      .poll(async () => (await cdcStatus(first.cdcUrl)).tables['public.reviews']?.c, {
        timeout: 10_000,
      })
      .toBe(1);

    // The extracted services run on databases of their own, fed by the in-process sink, and
    // carry exactly what the monolith holds, the new review included.
    expect(Object.keys(first.serviceUrls)).toEqual(['catalog', 'reviews', 'notifications']);
    for (const [name, url] of Object.entries(first.serviceUrls)) {
      const status = (await (await fetch(`${url}/_ficus/status`)).json()) as {
        service: string;
        source: { kind: string };
      };
      expect(status).toMatchObject({ service: name, source: { kind: 'embedded' } });
      await expect
        .poll(
          async () =>
            (
              (await (await fetch(`${url}/_ficus/reconcile`, { method: 'POST' })).json()) as {
                inSync: boolean;
              }
            ).inSync,
          { timeout: 20_000 },
        )
        .toBe(true);
    }

    first.demo.child.kill('SIGINT');
    expect(await first.demo.exited).toBe(0);
    expect(first.demo.output()).toContain('ficus demo stopped.');
    expect(await processesMatching(dataDir)).toEqual([]);

    const second = await startDemo();
    const reviews = await json(`${second.legacyUrl}/products/1/reviews?pageSize=100`);
    expect(reviews.body.items.map((r) => r.title)).toContain('kept across restarts');
    const again = await json(`${second.legacyUrl}/products`);
    expect(again.body.total).toBe(products.body.total);
    // The second start resumes streaming from the slot instead of snapshotting again.
    const resumed = await cdcStatus(second.cdcUrl);
    expect(resumed.state).toBe('streaming');
    expect(resumed.snapshot.rows).toBe(0);

    // A service added to a demo that has streamed for a while: its database is new, the slot is
    // not. Dropping the notifications database stands in for that.
    const [, postgresUrl] = second.demo.output().match(/embedded Postgres\s+(postgres:\/\/\S+)/)!;
    const admin = new pg.Client({ connectionString: postgresUrl });
    await admin.connect();
    await admin.query('DROP DATABASE notifications WITH (FORCE)');
    await admin.end();

    // A demo killed outright leaves its Postgres running; the next start must take over cleanly.
    second.demo.child.kill('SIGKILL');
    await second.demo.exited;
    expect((await processesMatching(dataDir)).length).toBeGreaterThan(0);

    const third = await startDemo();
    expect((await json(`${third.legacyUrl}/products/1`)).status).toBe(200);
    // The new notifications database is backfilled by an incremental snapshot of its tables.
    await expect
      .poll(
        async () =>
          (
            (await (
              await fetch(`${third.serviceUrls.notifications}/_ficus/reconcile`, { method: 'POST' })
            ).json()) as { inSync: boolean }
          ).inSync,
        { timeout: 30_000 },
      )
      .toBe(true);
    third.demo.child.kill('SIGTERM');
    expect(await third.demo.exited).toBe(0);
    expect(await processesMatching(dataDir)).toEqual([]);
  }, 120_000);

  it('refuses a port that is taken, naming the variable to change', async () => {
    const { createServer } = await import('node:net');
    const blocker = createServer().listen(0, '127.0.0.1');
    await new Promise((resolve) => blocker.once('listening', resolve));
    const port = (blocker.address() as { port: number }).port;
    const demo = spawnFicus(['demo', '--data-dir', dataDir], { FICUS_LEGACY_PORT: String(port) });
    running.push(demo);
    expect(await demo.exited).toBe(2);
    expect(demo.output()).toContain(`port ${port} for the legacy monolith is already in use`);
    expect(demo.output()).toContain('FICUS_LEGACY_PORT');
    blocker.close();
  });
});
