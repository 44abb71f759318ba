import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  compareResponses,
  createMismatchLog,
  type CapturedResponse,
  type Comparison,
  type MismatchLogEvent,
  type MirroredRequest,
} from '../../gateway/shadow/index.js';

const request: MirroredRequest = {
  method: 'GET',
  path: '/products/7?expand=reviews',
  headers: {
    accept: 'application/json',
    authorization: 'Bearer secret',
    Cookie: 'session=abc',
    'x-api-key': 'k',
    'x-member-id': '42',
    'x-forwarded-for': ['10.0.0.1', '10.0.0.2'],
    'if-none-match': undefined,
  },
};

function response(body: string | Buffer, headers: CapturedResponse['headers'] = {}) {
  return {
    status: 200,
    headers: { 'content-type': 'application/json', ...headers },
    body: Buffer.isBuffer(body) ? body : Buffer.from(body),
    truncated: false,
  } satisfies CapturedResponse;
}

const primary = response('{"price":10}', { 'set-cookie': ['sid=1'], etag: '"a"' });
const candidate = response('{"price":11}');
const mismatch = compareResponses(primary, candidate, { headers: [], ignore: [] });
const match: Comparison = { match: true, ignoredDifferences: 2 };

describe('mismatch log', () => {
  it('counts matches, mismatches, ignored differences and errors per route', () => {
    const log = createMismatchLog({ now: () => Date.UTC(2025, 0, 2, 3, 4, 5) });
    log.record('catalog', request, primary, primary, match);
    log.record('catalog', request, primary, primary, match);
    log.record('catalog', request, primary, candidate, { ...mismatch, ignoredDifferences: 1 });
    log.recordError('catalog', request, 'connect ECONNREFUSED 127.0.0.1:3101');
    log.record('orders', request, primary, primary, match);

    expect(log.stats('catalog')).toEqual({
      matches: 2,
      mismatches: 1,
      ignoredDifferences: 5,
      errors: 1,
      lastError: {
        at: '2025-01-02T03:04:05.000Z',
        method: 'GET',
        path: '/products/7?expand=reviews',
        error: 'connect ECONNREFUSED 127.0.0.1:3101',
      },
    });
    expect(log.stats()).toEqual({
      catalog: log.stats('catalog'),
      orders: { matches: 1, mismatches: 0, ignoredDifferences: 2, errors: 0 },
    });
  });

  it('answers zeros for an unknown route without starting to track it', () => {
    const log = createMismatchLog();
    expect(log.stats('nope')).toEqual({
      matches: 0,
      mismatches: 0,
      ignoredDifferences: 0,
      errors: 0,
    });
    expect(log.stats()).toEqual({});
    expect(log.recent('nope')).toEqual([]);
  });

  it('hands out copies of the counters', () => {
    const log = createMismatchLog();
    log.record('catalog', request, primary, primary, match);
    log.stats('catalog').matches = 100;
    expect(log.stats('catalog').matches).toBe(1);
  });

  it('stores a mismatch with both sides, the differences and an increasing id', () => {
    const log = createMismatchLog({ now: () => Date.UTC(2025, 0, 2) });
    expect(log.record('catalog', request, primary, primary, match)).toBeUndefined();
    const first = log.record('catalog', request, primary, candidate, mismatch);
    const second = log.record('orders', request, primary, candidate, mismatch);
    expect(first).toEqual({
      id: 1,
      routeId: 'catalog',
      at: '2025-01-02T00:00:00.000Z',
      request: {
        method: 'GET',
        path: '/products/7?expand=reviews',
        headers: {
          accept: 'application/json',
          'x-member-id': '42',
          'x-forwarded-for': ['10.0.0.1', '10.0.0.2'],
        },
      },
      primary: {
        status: 200,
        headers: { 'content-type': 'application/json', etag: '"a"' },
        body: '{"price":10}',
        bodyEncoding: 'utf8',
        bodyTruncated: false,
      },
      candidate: {
        status: 200,
        headers: { 'content-type': 'application/json' },
        body: '{"price":11}',
        bodyEncoding: 'utf8',
        bodyTruncated: false,
      },
      differences: [{ kind: 'body', path: '$.price', primary: 10, candidate: 11 }],
    });
    expect(second?.id).toBe(2);
    expect(log.get(1)).toBe(first);
    expect(log.get(3)).toBeUndefined();
  });

  it('never keeps credentials, in any letter case, nor extra headers it is told to redact', () => {
    const log = createMismatchLog({ redactHeaders: ['x-member-id'] });
    const stored = log.record('catalog', request, primary, candidate, mismatch);
    expect(Object.keys(stored?.request.headers ?? {}).sort()).toEqual([
      'accept',
      'x-forwarded-for',
    ]);
    expect(stored?.primary.headers).not.toHaveProperty('set-cookie');
  });

  it('keeps at most perRoute mismatches per route, dropping the oldest', () => {
    const log = createMismatchLog({ perRoute: 3 });
    for (let i = 0; i < 5; i++) log.record('catalog', request, primary, candidate, mismatch);
    log.record('orders', request, primary, candidate, mismatch);

    expect(log.recent('catalog').map((m) => m.id)).toEqual([5, 4, 3]);
    expect(log.recent('orders').map((m) => m.id)).toEqual([6]);
    expect(log.get(2)).toBeUndefined();
    expect(log.get(3)?.routeId).toBe('catalog');
    expect(log.stats('catalog').mismatches).toBe(5);
  });

  it('lists recent mismatches of all routes newest first, up to a limit', () => {
    const log = createMismatchLog();
    log.record('catalog', request, primary, candidate, mismatch);
    log.record('orders', request, primary, candidate, mismatch);
    log.record('catalog', request, primary, candidate, mismatch);
    expect(log.recent().map((m) => [m.id, m.routeId])).toEqual([
      [3, 'catalog'],
      [2, 'orders'],
      [1, 'catalog'],
    ]);
    expect(log.recent(undefined, 2).map((m) => m.id)).toEqual([3, 2]);
    expect(log.recent('catalog', 1).map((m) => m.id)).toEqual([3]);
    expect(log.recent('catalog', 0)).toEqual([]);
  });

  it('caps each stored body at 64 KiB by default', () => {
    const log = createMismatchLog();
    const big = response(`"${'x'.repeat(100 * 1024)}"`);
    const stored = log.record('catalog', request, big, candidate, mismatch);
    expect(stored?.primary.body).toHaveLength(64 * 1024);
    expect(stored?.primary.bodyTruncated).toBe(true);
    expect(stored?.candidate.bodyTruncated).toBe(false);
  });

  it('marks a body the capture already truncated, and honours maxBodyBytes', () => {
    const log = createMismatchLog({ maxBodyBytes: 4 });
    const truncated = { ...response('{"price":'), truncated: true };
    const stored = log.record('catalog', request, truncated, response('{}'), mismatch);
    expect(stored?.primary).toMatchObject({ body: '{"pr', bodyTruncated: true });
    expect(stored?.candidate).toMatchObject({ body: '{}', bodyTruncated: false });
  });

  it.each([
    ['image/png', 'base64'],
    ['application/octet-stream', 'base64'],
    ['text/html; charset=utf-8', 'utf8'],
    ['application/problem+json', 'utf8'],
    ['application/xml', 'utf8'],
  ] as const)('keeps a %s body as %s', (contentType, encoding) => {
    const log = createMismatchLog();
    const bytes = Buffer.from([0x89, 0x50, 0x4e, 0x47]);
    const stored = log.record(
      'catalog',
      request,
      response(bytes, { 'content-type': contentType }),
      candidate,
      mismatch,
    );
    expect(stored?.primary.bodyEncoding).toBe(encoding);
    expect(Buffer.from(stored?.primary.body ?? '', encoding).equals(bytes)).toBe(
      encoding === 'base64',
    );
  });

  it('keeps a compressed body decoded, or as base64 when it cannot be decoded', () => {
    const log = createMismatchLog();
    const gzipped = response(gzipSync('{"price":10}'), { 'content-encoding': 'gzip' });
    const broken = response(Buffer.from([1, 2, 3]), { 'content-encoding': 'gzip' });
    const stored = log.record('catalog', request, gzipped, broken, mismatch);
    expect(stored?.primary).toMatchObject({ body: '{"price":10}', bodyEncoding: 'utf8' });
    expect(stored?.candidate).toMatchObject({ body: 'AQID', bodyEncoding: 'base64' });
  });

  it('tells subscribers about every record until they unsubscribe', () => {
    const log = createMismatchLog();
    const events: MismatchLogEvent[] = [];
    const unsubscribe = log.subscribe((event) => events.push(event));
    log.record('catalog', request, primary, primary, match);
    const stored = log.record('catalog', request, primary, candidate, mismatch);
    log.recordError('catalog', request, 'timeout after 30000 ms');
    unsubscribe();
    log.record('catalog', request, primary, primary, match);

    expect(events.map((e) => e.type)).toEqual(['match', 'mismatch', 'error']);
    expect(events[1]).toMatchObject({ routeId: 'catalog', mismatch: stored });
    expect(events[2]).toMatchObject({
      error: 'timeout after 30000 ms',
      stats: { matches: 1, mismatches: 1, errors: 1 },
    });
  });

  it('keeps recording and notifying when a subscriber throws', () => {
    const log = createMismatchLog();
    const seen: string[] = [];
    log.subscribe(() => {
      throw new Error('dashboard went away');
    });
    log.subscribe((event) => seen.push(event.type));
    expect(() => log.record('catalog', request, primary, candidate, mismatch)).not.toThrow();
    expect(seen).toEqual(['mismatch']);
    expect(log.stats('catalog').mismatches).toBe(1);
  });

  it('forgets a route entirely', () => {
    const log = createMismatchLog();
    const stored = log.record('catalog', request, primary, candidate, mismatch);
    log.forget('catalog');
    expect(log.get(stored?.id ?? 0)).toBeUndefined();
    expect(log.recent()).toEqual([]);
    expect(log.stats()).toEqual({});
  });
});
