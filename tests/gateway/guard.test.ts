import { describe, expect, it } from 'vitest';
import { binLatency, createGuard, latencyBin, type GuardSample } from '../../gateway/guard.js';
import type { Guard } from '../../gateway/route-table/index.js';

const errors: Guard = { maxErrorRate: 0.05, windowSeconds: 60, minRequests: 20 };
const latency: Guard = { maxP99Ms: 800, windowSeconds: 60, minRequests: 20 };

/** A guard on a fake clock that records its trips. */
function setup(start = 1_000_000) {
  let now = start;
  const trips: Array<[string, string]> = [];
  const guard = createGuard({ now: () => now, onTrip: (id, reason) => trips.push([id, reason]) });
  const tick = (ms: number) => {
    now += ms;
  };
  const feed = (routeId: string, config: Guard, count: number, sample: GuardSample) => {
    for (let i = 0; i < count; i++) guard.observe(routeId, config, sample);
  };
  return { guard, trips, tick, feed };
}

const ok = { ok: true, latencyMs: 50 };
const failed = { ok: false, latencyMs: 50 };

describe('guard: error rate', () => {
  it('trips once the error rate exceeds the limit, not when it equals it', () => {
    const { guard, trips, feed } = setup();
    feed('orders', errors, 38, ok);
    feed('orders', errors, 2, failed);
    expect(guard.state('orders')).toMatchObject({ requests: 40, errorRate: 0.05, tripped: false });
    expect(trips).toEqual([]);

    feed('orders', errors, 1, failed);
    expect(trips).toEqual([['orders', 'error rate 7.3% over 60 s exceeds 5% (41 requests)']]);
    expect(guard.state('orders')).toEqual({
      requests: 41,
      errors: 3,
      errorRate: 3 / 41,
      p99Ms: binLatency(latencyBin(50)),
      tripped: true,
      reason: 'error rate 7.3% over 60 s exceeds 5% (41 requests)',
    });
  });

  it('does not trip below minRequests, then trips at minRequests', () => {
    const { guard, trips, feed } = setup();
    feed('orders', errors, 10, failed);
    feed('orders', errors, 9, ok);
    expect(guard.state('orders')).toMatchObject({ requests: 19, tripped: false });
    expect(trips).toEqual([]);
    feed('orders', errors, 1, ok);
    expect(trips).toEqual([['orders', 'error rate 50% over 60 s exceeds 5% (20 requests)']]);
  });

  it('trips only once until reset, then again', () => {
    const { guard, trips, feed } = setup();
    feed('orders', errors, 100, failed);
    expect(trips).toHaveLength(1);
    expect(guard.state('orders').requests).toBe(100);

    guard.reset('orders');
    expect(guard.state('orders')).toEqual({
      requests: 0,
      errors: 0,
      errorRate: 0,
      p99Ms: 0,
      tripped: false,
    });
    feed('orders', errors, 19, failed);
    expect(trips).toHaveLength(1);
    feed('orders', errors, 1, failed);
    expect(trips).toHaveLength(2);
  });

  it('keeps routes apart', () => {
    const { guard, trips, feed } = setup();
    feed('orders', errors, 30, failed);
    feed('catalog', errors, 30, ok);
    expect(trips.map(([id]) => id)).toEqual(['orders']);
    expect(guard.state('catalog')).toMatchObject({ requests: 30, errors: 0, tripped: false });
  });

  it('survives an onTrip that throws, and still trips only once', () => {
    let calls = 0;
    const guard = createGuard({
      now: () => 0,
      onTrip: () => {
        calls++;
        throw new Error('route table is read-only');
      },
    });
    for (let i = 0; i < 30; i++) {
      expect(() => guard.observe('orders', errors, failed)).not.toThrow();
    }
    expect(calls).toBe(1);
    expect(guard.state('orders').tripped).toBe(true);
  });
});

describe('guard: sliding window', () => {
  it('forgets a bucket as soon as it leaves the window', () => {
    const { guard, tick, feed } = setup(0);
    feed('orders', errors, 10, failed); // t = 0 s
    tick(30_000);
    feed('orders', errors, 5, ok); // t = 30 s
    tick(29_999); // t = 59.999 s: the bucket of t = 0 is the oldest still in the window
    expect(guard.state('orders')).toMatchObject({ requests: 15, errors: 10 });
    tick(1); // t = 60 s
    expect(guard.state('orders')).toMatchObject({ requests: 5, errors: 0, errorRate: 0 });
    tick(30_000); // t = 90 s
    expect(guard.state('orders')).toMatchObject({ requests: 0, p99Ms: 0 });
  });

  it('does not trip on errors that have left the window', () => {
    const { trips, tick, feed } = setup();
    feed('orders', errors, 15, failed);
    tick(61_000);
    feed('orders', errors, 40, ok);
    expect(trips).toEqual([]);
  });

  it('counts errors spread over the window together', () => {
    const { trips, tick, feed } = setup();
    for (let second = 0; second < 50; second++) {
      feed('orders', errors, 1, second % 25 === 0 ? failed : ok);
      tick(1_000);
    }
    expect(trips).toEqual([['orders', 'error rate 7.7% over 60 s exceeds 5% (26 requests)']]);
  });

  it('forgets everything after an idle stretch longer than the window', () => {
    const { guard, tick, feed } = setup();
    feed('orders', errors, 10, failed);
    tick(3_600_000);
    feed('orders', errors, 1, ok);
    expect(guard.state('orders')).toMatchObject({ requests: 1, errors: 0 });
  });

  it('uses coarser buckets for long windows, at most 60 of them', () => {
    const { guard, tick, feed } = setup(0);
    const hour: Guard = { ...errors, windowSeconds: 600 };
    feed('orders', hour, 3, ok); // bucket [0 s, 10 s)
    tick(599_999);
    expect(guard.state('orders').requests).toBe(3);
    tick(1);
    expect(guard.state('orders').requests).toBe(0);
  });

  it('starts a new window when windowSeconds changes', () => {
    const { guard, feed } = setup();
    feed('orders', errors, 10, ok);
    feed('orders', { ...errors, windowSeconds: 30 }, 1, ok);
    expect(guard.state('orders').requests).toBe(1);
  });

  it('puts samples from a clock that stepped back into the current bucket', () => {
    const { guard, tick, feed } = setup();
    feed('orders', errors, 1, ok);
    tick(-5_000);
    feed('orders', errors, 1, ok);
    expect(guard.state('orders').requests).toBe(2);
  });
});

describe('guard: latency', () => {
  it('trips when more than 1% of samples are above maxP99Ms', () => {
    const { guard, trips, feed } = setup();
    feed('catalog', latency, 100, { ok: true, latencyMs: 100 });
    feed('catalog', latency, 1, { ok: true, latencyMs: 900 });
    expect(guard.state('catalog')).toMatchObject({ requests: 101, p99Ms: 102, tripped: false });

    feed('catalog', latency, 1, { ok: true, latencyMs: 900 });
    expect(trips).toEqual([
      ['catalog', 'p99 latency 912 ms over 60 s exceeds 800 ms (102 requests)'],
    ]);
    expect(guard.state('catalog')).toMatchObject({ p99Ms: 912, errorRate: 0, tripped: true });
  });

  it('does not trip on latency below minRequests', () => {
    const { trips, feed } = setup();
    feed('catalog', latency, 19, { ok: true, latencyMs: 5_000 });
    expect(trips).toEqual([]);
    feed('catalog', latency, 1, { ok: true, latencyMs: 5_000 });
    expect(trips).toHaveLength(1);
  });

  it('reports both breaches when both limits are crossed', () => {
    const { trips, feed } = setup();
    const both: Guard = { ...errors, maxP99Ms: 800 };
    feed('catalog', both, 20, { ok: false, latencyMs: 30_000 });
    expect(trips).toEqual([
      [
        'catalog',
        'error rate 100% over 60 s exceeds 5% (20 requests); p99 latency 30208 ms over 60 s exceeds 800 ms (20 requests)',
      ],
    ]);
  });

  it('recounts slow samples when maxP99Ms changes', () => {
    const { trips, feed } = setup();
    feed('catalog', { ...latency, maxP99Ms: 2_000 }, 50, { ok: true, latencyMs: 1_000 });
    expect(trips).toEqual([]);
    feed('catalog', latency, 1, { ok: true, latencyMs: 10 });
    expect(trips).toEqual([
      ['catalog', 'p99 latency 1008 ms over 60 s exceeds 800 ms (51 requests)'],
    ]);
  });

  it('forgets slow samples that leave the window', () => {
    const { guard, trips, tick, feed } = setup(0);
    const quiet: Guard = { ...latency, minRequests: 1000 };
    feed('catalog', quiet, 10, { ok: true, latencyMs: 2_000 }); // t = 0 s
    tick(30_000);
    feed('catalog', quiet, 50, { ok: true, latencyMs: 100 }); // t = 30 s
    expect(guard.state('catalog').p99Ms).toBe(binLatency(latencyBin(2_000)));
    tick(30_000); // t = 60 s: the slow bucket expires
    feed('catalog', latency, 60, { ok: true, latencyMs: 100 });
    expect(trips).toEqual([]);
    expect(guard.state('catalog')).toMatchObject({ requests: 110, p99Ms: 102 });
  });

  it('computes p99 from the samples still in the window', () => {
    const { guard, tick, feed } = setup(0);
    const quiet: Guard = { ...latency, minRequests: 1000 };
    feed('catalog', quiet, 100, { ok: true, latencyMs: 10 }); // t = 0 s
    tick(30_000);
    feed('catalog', quiet, 5, { ok: true, latencyMs: 300 }); // t = 30 s
    expect(guard.state('catalog').p99Ms).toBe(binLatency(latencyBin(300)));
    tick(30_000);
    feed('catalog', quiet, 5, { ok: true, latencyMs: 200 }); // t = 60 s: the fast bucket expires
    expect(guard.state('catalog')).toMatchObject({
      requests: 10,
      p99Ms: binLatency(latencyBin(300)),
    });
    tick(30_000); // t = 90 s: only the 200 ms samples remain
    expect(guard.state('catalog').p99Ms).toBe(binLatency(latencyBin(200)));
  });

  it.each([0, 0.4, 1, 5, 37, 100, 799, 800, 801, 999, 12_345, 600_000])(
    'reports a latency of %d ms within 3.2%%',
    (ms) => {
      const reported = binLatency(latencyBin(ms));
      expect(Math.abs(reported - ms)).toBeLessThanOrEqual(Math.max(1, ms * 0.032));
    },
  );

  it('agrees with its own p99 on whether to trip', () => {
    let seed = 7;
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    for (const maxP99Ms of [50, 300, 800, 1_000, 4_000]) {
      for (let round = 0; round < 20; round++) {
        const count = 50 + Math.floor(random() * 500);
        const { guard, trips } = setup();
        const config: Guard = { maxP99Ms, windowSeconds: 60, minRequests: count };
        const samples = Array.from({ length: count }, () => ({
          ok: true,
          latencyMs: random() < 0.97 ? random() * 400 : random() * 5_000,
        }));
        samples.forEach((sample) => guard.observe('r', config, sample));
        const { p99Ms } = guard.state('r');
        expect(trips.length === 1, `p99 ${p99Ms}, limit ${maxP99Ms}`).toBe(p99Ms > maxP99Ms);

        const sorted = samples.map((s) => s.latencyMs).sort((a, b) => a - b);
        const exact = sorted[Math.ceil(0.99 * count) - 1] ?? 0;
        expect(Math.abs(p99Ms - exact)).toBeLessThanOrEqual(Math.max(1, exact * 0.032));
      }
    }
  });
});
