/**
 * Storefront traffic for the demo: members of the seeded shop browse product lists and details,
 * categories and reviews, write the odd review, look at their wishlists and orders, and place
 * orders, at a modest steady rate, so the dashboard has something to show. Works against any
 * gateway in front of the reference monolith (`ficus demo --traffic`, or startDemoTraffic).
 *
 * Every request carries `x-member-id` (the sticky key of the example routes), so a canary keeps
 * each member on one side. Requests are started on a fixed schedule; when the gateway is slow,
 * at most `maxInFlight` are outstanding and the rest of that tick is skipped, never queued.
 */
import { createSilentLogger, type Logger } from '../common/index.js';

/** What {@link startDemoTraffic} takes. */
export interface DemoTrafficOptions {
  /** The gateway, e.g. http://127.0.0.1:8080. */
  baseUrl: string;
  /** Requests started per second; default 8. */
  ratePerSecond?: number;
  /** Outstanding requests at most; default 32. */
  maxInFlight?: number;
  logger?: Logger;
  /** Random numbers in [0, 1); `Math.random` by default. */
  random?: () => number;
}

/** Counters since the start. */
export interface DemoTrafficStats {
  sent: number;
  /** By status class: `2xx`, `4xx`, …, and `error` for requests that got no answer. */
  byStatus: Record<string, number>;
  /** Ticks skipped because `maxInFlight` requests were outstanding. */
  skipped: number;
}

/** Running traffic. */
export interface DemoTraffic {
  stats(): DemoTrafficStats;
  /** Stops starting requests and waits for the outstanding ones. */
  stop(): Promise<void>;
}

/** A request of the mix. */
interface Visit {
  method: 'GET' | 'POST';
  path: string;
  body?: unknown;
}

const MEMBERS = 40;
const PRODUCTS = 300;
const CATEGORIES = [
  'kitchen',
  'garden',
  'books',
  'electronics',
  'outdoors',
  'toys',
  'office',
  'apparel',
];
const REVIEW_TITLES = [
  'Does the job',
  'Better than expected',
  'Not for me',
  'Solid value',
  'Would buy again',
];

/** The mix: weights add up to 100. */
const MIX: readonly { weight: number; visit: (pick: Pick) => Visit }[] = [
  {
    weight: 26,
    visit: (p) => ({ method: 'GET', path: `/products?page=${p.int(1, 5)}&pageSize=20` }),
  },
  { weight: 8, visit: (p) => ({ method: 'GET', path: `/products?category=${p.of(CATEGORIES)}` }) },
  { weight: 30, visit: (p) => ({ method: 'GET', path: `/products/${p.product()}` }) },
  { weight: 5, visit: () => ({ method: 'GET', path: '/categories' }) },
  { weight: 12, visit: (p) => ({ method: 'GET', path: `/products/${p.product()}/reviews` }) },
  {
    weight: 2,
    visit: (p) => ({
      method: 'POST',
      path: `/products/${p.product()}/reviews`,
      body: {
        memberId: p.member,
        rating: p.int(1, 5),
        title: p.of(REVIEW_TITLES),
        body: 'Written by the ficus demo traffic.',
      },
    }),
  },
  { weight: 5, visit: (p) => ({ method: 'GET', path: `/members/${p.member}` }) },
  { weight: 4, visit: (p) => ({ method: 'GET', path: `/members/${p.member}/wishlist` }) },
  { weight: 5, visit: (p) => ({ method: 'GET', path: `/members/${p.member}/orders` }) },
  {
    weight: 3,
    visit: (p) => ({
      method: 'POST',
      path: '/orders',
      body: { memberId: p.member, items: [{ productId: p.product(), quantity: p.int(1, 2) }] },
    }),
  },
];

interface Pick {
  member: number;
  int(min: number, max: number): number;
  of<T>(items: readonly T[]): T;
  /** A product id, skewed towards the first products as real shops are. */
  product(): number;
}

/** Starts sending traffic; call `stop` to end it. */
export function startDemoTraffic(options: DemoTrafficOptions): DemoTraffic {
  const base = options.baseUrl.replace(/\/+$/, '');
  const rate = options.ratePerSecond ?? 8;
  if (!(rate > 0 && rate <= 1000)) throw new RangeError('ratePerSecond must be from 0 to 1000');
  const maxInFlight = options.maxInFlight ?? 32;
  const logger = options.logger ?? createSilentLogger();
  const random = options.random ?? Math.random;
  const stats: DemoTrafficStats = { sent: 0, byStatus: {}, skipped: 0 };
  const inFlight = new Set<Promise<void>>();
  const controller = new AbortController();
  const total = MIX.reduce((sum, entry) => sum + entry.weight, 0);

  const int = (min: number, max: number) => min + Math.floor(random() * (max - min + 1));
  const pick = (): Pick => ({
    member: int(1, MEMBERS),
    int,
    of: (items) => items[Math.floor(random() * items.length)]!,
    product: () => Math.min(PRODUCTS, 1 + Math.floor(PRODUCTS * random() ** 2)),
  });

  /** A visit and the member who makes it. */
  function choose(): { visit: Visit; member: number } {
    const chosen = pick();
    let roll = random() * total;
    for (const entry of MIX) {
      roll -= entry.weight;
      if (roll < 0) return { visit: entry.visit(chosen), member: chosen.member };
    }
    return { visit: MIX[0]!.visit(chosen), member: chosen.member };
  }

  function count(key: string): void {
    stats.byStatus[key] = (stats.byStatus[key] ?? 0) + 1;
  }

  async function send(visit: Visit, member: string): Promise<void> {
    try {
      const response = await fetch(`${base}${visit.path}`, {
        method: visit.method,
        headers: {
          'x-member-id': member,
          accept: 'application/json',
          ...(visit.body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(visit.body === undefined ? {} : { body: JSON.stringify(visit.body) }),
        signal: AbortSignal.any([controller.signal, AbortSignal.timeout(10_000)]),
      });
      await response.arrayBuffer();
      count(`${Math.floor(response.status / 100)}xx`);
    } catch (error) {
      if (controller.signal.aborted) return;
      count('error');
      logger.debug({ err: error, path: visit.path }, 'demo traffic request failed');
    }
  }

  const timer = setInterval(
    () => {
      if (inFlight.size >= maxInFlight) {
        stats.skipped++;
        return;
      }
      const { visit, member } = choose();
      stats.sent++;
      const request = send(visit, String(member)).finally(() => inFlight.delete(request));
      inFlight.add(request);
    },
    Math.max(1, Math.round(1000 / rate)),
  );

  return {
    stats: () => ({ ...stats, byStatus: { ...stats.byStatus } }),
    async stop() {
      clearInterval(timer);
      controller.abort();
      await Promise.allSettled([...inFlight]);
    },
  };
}
