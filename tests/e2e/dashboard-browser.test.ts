/**
 * The dashboard in a real browser (Debian's chromium driven by playwright-core): sign in with the
 * admin token, see the routes, change a route's mode with a reason and see it both in the page and
 * in the admin API, read the history, and open a shadow difference between two upstreams that
 * disagree. Without chromium the test is skipped with a message, unless CI is set.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RouteTableVersion } from '../../gateway/index.js';
import { waitUntil } from '../cdc/harness.js';
import {
  bearer,
  request,
  startDashboardHarness,
  type DashboardHarness,
} from '../gateway/dashboard/harness.js';
import { ADMIN_TOKEN } from '../gateway/harness.js';

const CHROMIUM = '/usr/bin/chromium';
/** The page updates from the live stream (stats every 2 s); give it a few ticks. */
const POLL = { timeout: 10_000 };
const available = existsSync(CHROMIUM);
if (!available && process.env.CI) {
  throw new Error(`the dashboard browser test needs ${CHROMIUM}: apt-get install -y chromium`);
}
if (!available) {
  console.warn(`skipping the dashboard browser test: no ${CHROMIUM} (apt-get install -y chromium)`);
}

describe.skipIf(!available)('the dashboard in a browser', () => {
  let h: DashboardHarness;
  let browser: Browser;
  let page: Page;
  let shots: string;

  beforeAll(async () => {
    h = await startDashboardHarness(({ legacy, service }) => ({
      legacy,
      services: { catalog: service },
      routes: [
        { id: 'product-detail', path: '/products/:id', service: 'catalog', mode: 'shadow' },
        { id: 'orders', methods: ['GET'], path: '/orders/:id', service: 'catalog', mode: 'legacy' },
      ],
    }));
    h.legacy.behaviour.body = (r: { url: string }) => ({ path: r.url, price: '10.00' });
    h.service.behaviour.body = (r: { url: string }) => ({
      path: r.url,
      price: r.url.endsWith('/2') ? '11.00' : '10.00',
    });
    for (const id of [1, 2, 3]) await request(h.url, { path: `/products/${id}` });
    await request(h.url, { path: '/orders/7' });
    await request(h.url, { path: '/members/7' });
    await waitUntil(() => h.gateway.dashboard.overview().routes[0]!.shadow.mismatches === 1);

    shots = await mkdtemp(path.join(tmpdir(), 'ficus-dashboard-'));
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
    });
    page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
    // Fail with the locator that did not appear, well within the test's own timeout.
    page.setDefaultTimeout(10_000);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await h?.close();
    if (shots) await rm(shots, { recursive: true, force: true });
  });

  it('signs in with the admin token, from the keyboard', async () => {
    await page.goto(`${h.url}/_ficus/`);
    await page.getByLabel('Admin token').fill('wrong-token-0123456789');
    await page.getByLabel('Admin token').press('Enter');
    await expect
      .poll(() => page.locator('#sign-in-error').textContent(), POLL)
      .toContain('not the admin token');
    await page.getByLabel('Admin token').fill(ADMIN_TOKEN);
    await page.getByLabel(/Your name/).fill('maria');
    await page.getByLabel(/Your name/).press('Enter');
    await page.locator('#live.on').waitFor();
    await expect.poll(() => page.locator('#who').textContent(), POLL).toBe('signed in as maria');
    // The token is not kept anywhere the page's scripts can read.
    expect(await page.evaluate<string>('document.cookie')).toBe('');
    expect(await page.evaluate<string>('JSON.stringify(window.localStorage)')).toBe('{}');
  });

  it('shows every route with its mode and the traffic no route claims', async () => {
    const rows = page.locator('#routes-table tbody tr');
    await expect.poll(() => rows.count(), POLL).toBe(2);
    await expect
      .poll(() => page.locator('tr[data-route="product-detail"] .badge').textContent(), POLL)
      .toBe('shadow');
    await expect
      .poll(() => page.locator('tr[data-route="orders"] .badge').textContent(), POLL)
      .toBe('legacy');
    await expect
      .poll(() => page.locator('#progress').textContent(), POLL)
      .toContain('GET /members/:id');
  });

  it('changes a route with a reason, and the page and the admin API both show it', async () => {
    await page.locator('tr[data-route="orders"] [data-action=change]').click();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('radio', { name: /canary/ }).check();
    await dialog.getByLabel(/Canary weight/).fill('10');
    // The reason is required: the browser does not submit without it.
    await dialog.getByRole('button', { name: 'Apply' }).click();
    expect(await dialog.isVisible()).toBe(true);
    await dialog.getByLabel(/Reason/).fill('first 10% of members');
    await dialog.getByRole('button', { name: 'Apply' }).click();
    await dialog.waitFor({ state: 'hidden' });

    await expect
      .poll(() => page.locator('tr[data-route="orders"] .badge').textContent(), POLL)
      .toBe('canary 10%');
    const current = (
      await request(h.url, { path: '/_ficus/api/routes', headers: bearer })
    ).json() as RouteTableVersion;
    expect(current).toMatchObject({
      actor: 'maria',
      reason: 'first 10% of members',
      kind: 'change',
    });
    expect(current.table.routes[1]).toMatchObject({ id: 'orders', mode: 'canary', weight: 10 });
  });

  it('shows a change made elsewhere and the history with what changed', async () => {
    await h.store.setMode(
      'orders',
      { mode: 'legacy' },
      {
        actor: 'guard',
        reason: 'error rate 50% over 60 s exceeds 5% (20 requests)',
        kind: 'rollback',
      },
    );
    await expect
      .poll(() => page.locator('tr[data-route="orders"] .badge').textContent(), POLL)
      .toBe('legacy');
    await page.getByRole('button', { name: 'History' }).click();
    const rollback = page.locator('li.rollback[data-version="3"]');
    await rollback.waitFor();
    expect(await rollback.textContent()).toContain('automatic rollback');
    expect(await rollback.textContent()).toContain('error rate 50% over 60 s exceeds 5%');
    const change = page.locator('li[data-version="2"]');
    expect(await change.textContent()).toContain('by maria');
    expect(await change.textContent()).toContain('orders: mode "legacy" → "canary"');
  });

  it('opens a shadow difference with both answers side by side', async () => {
    await page.getByRole('button', { name: 'Shadow differences' }).click();
    const item = page.locator('[data-mismatch]').first();
    await item.waitFor();
    expect(await item.textContent()).toContain('GET /products/2');
    await item.click();
    const detail = page.locator('#mismatch-detail');
    await detail.locator('table.diff').waitFor();
    expect(await detail.textContent()).toContain('$.price');
    const changed = detail.locator('table.diff tr[data-kind="changed"]');
    await expect.poll(() => changed.count(), POLL).toBeGreaterThan(0);
    expect(await changed.first().locator('td').nth(0).textContent()).toContain('"price": "10.00"');
    expect(await changed.first().locator('td').nth(1).textContent()).toContain('"price": "11.00"');

    const file = path.join(shots, 'shadow.png');
    await page.screenshot({ path: file, fullPage: true });
    expect((await stat(file)).size).toBeGreaterThan(10_000);
  });

  it("draws a route's charts with the chart library served by the gateway", async () => {
    await page.getByRole('button', { name: 'Routes' }).click();
    await page.locator('tr[data-route="product-detail"] [data-action=details]').click();
    await page.locator('#route-detail .uplot').first().waitFor();
    expect(await page.locator('#route-detail .uplot').count()).toBe(3);
  });
});

describe.skipIf(!available)('the dashboard with a few hundred routes', () => {
  let h: DashboardHarness;
  let browser: Browser;

  beforeAll(async () => {
    h = await startDashboardHarness(
      ({ legacy, service }) => ({
        legacy,
        services: { catalog: service },
        routes: Array.from({ length: 300 }, (_, i) => ({
          id: `route-${i}`,
          path: `/area-${i}/:id`,
          service: 'catalog',
          mode: (['legacy', 'shadow', 'canary', 'new'] as const)[i % 4],
          ...(i % 4 === 2 ? { weight: 10 } : {}),
        })),
      }),
      { statsEveryMs: 500 },
    );
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await h?.close();
  });

  it('lists every route, filters them, and shows a change to one of them live', async () => {
    const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
    page.setDefaultTimeout(10_000);
    await page.goto(`${h.url}/_ficus/`);
    await page.getByLabel('Admin token').fill(ADMIN_TOKEN);
    await page.getByLabel('Admin token').press('Enter');
    await page.locator('#live.on').waitFor();
    const rows = page.locator('#routes-table tbody tr:visible');
    await expect.poll(() => rows.count(), POLL).toBe(300);
    await expect
      .poll(() => page.locator('#progress').textContent(), POLL)
      .toContain('75 of 300 on new');

    await page.getByLabel('Filter').fill('area-123/');
    await expect.poll(() => rows.count(), POLL).toBe(1);
    await page.getByLabel('Filter').fill('');

    // Traffic on many routes keeps the rows updating in place while a change arrives.
    for (let i = 0; i < 300; i += 7) await request(h.url, { path: `/area-${i}/1` });
    const changed = await request(h.url, {
      method: 'PATCH',
      path: '/_ficus/api/routes/route-200',
      headers: { ...bearer, 'content-type': 'application/json' },
      body: JSON.stringify({ mode: 'new', reason: 'many routes' }),
    });
    expect(changed.status).toBe(200);
    await expect
      .poll(() => page.locator('tr[data-route="route-200"] .badge').textContent(), POLL)
      .toBe('new');
    await expect.poll(() => rows.count(), POLL).toBe(300);
    await page.close();
  });
});
