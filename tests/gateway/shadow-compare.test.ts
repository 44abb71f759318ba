import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../common/index.js';
import {
  compareResponses,
  MAX_DIFFERENCES,
  parseIgnoreRule,
  type CapturedResponse,
  type CompareOptions,
} from '../../gateway/shadow/index.js';

const defaults: CompareOptions = { headers: ['content-type'], ignore: [] };

interface ResponseInit {
  status?: number;
  headers?: CapturedResponse['headers'];
  truncated?: boolean;
}

function response(body: string | Buffer, init: ResponseInit = {}): CapturedResponse {
  const {
    status = 200,
    headers = { 'content-type': 'application/json' },
    truncated = false,
  } = init;
  return { status, headers, body: Buffer.isBuffer(body) ? body : Buffer.from(body), truncated };
}

const json = (value: unknown) => response(JSON.stringify(value));

function bodyDifferences(primary: unknown, candidate: unknown, options = defaults) {
  const comparison = compareResponses(json(primary), json(candidate), options);
  return comparison.match ? [] : comparison.differences;
}

describe('compareResponses: status and headers', () => {
  it('matches identical responses', () => {
    expect(compareResponses(json({ a: 1 }), json({ a: 1 }), defaults)).toEqual({
      match: true,
      ignoredDifferences: 0,
    });
  });

  it('reports a status difference', () => {
    const comparison = compareResponses(response('{}'), response('{}', { status: 500 }), defaults);
    expect(comparison).toEqual({
      match: false,
      ignoredDifferences: 0,
      differences: [{ kind: 'status', path: 'status', primary: 200, candidate: 500 }],
    });
  });

  it.each([
    ['content-type', 'application/json', 'application/json; charset=utf-8', true],
    ['content-type', 'application/json; charset=UTF-8', 'Application/JSON', true],
    ['content-type', 'application/problem+json; charset=utf-8', 'application/problem+json', true],
    ['content-type', 'text/html; charset=UTF-8', 'text/html;charset="utf-8"', true],
    ['content-type', 'text/plain; a=1; b=2', 'text/plain; B=2; a=1', true],
    ['content-type', 'application/json', 'text/html', false],
    ['content-type', 'text/html; charset=utf-8', 'text/html', false],
    ['content-type', 'application/json; charset=iso-8859-1', 'application/json', false],
    ['content-type', 'text/plain; a=x', 'text/plain; a=X', false],
    ['cache-control', 'no-store', 'no-store', true],
    ['cache-control', 'no-store', 'No-Store', false],
    ['x-tags', ['a', 'b'], 'a, b', true],
    ['x-tags', ' a ', 'a', true],
    ['x-tags', undefined, 'a', false],
    ['x-tags', 'a', undefined, false],
  ] as const)('header %s: %j vs %j equal=%s', (name, primaryValue, candidateValue, equal) => {
    const comparison = compareResponses(
      response('', { headers: { [name]: primaryValue as string | string[] | undefined } }),
      response('', { headers: { [name]: candidateValue } }),
      { headers: [name], ignore: [] },
    );
    if (equal) {
      expect(comparison.match).toBe(true);
    } else {
      const join = (v: string | readonly string[] | undefined) =>
        Array.isArray(v) ? v.join(', ') : (v as string | undefined)?.trim();
      expect(comparison).toMatchObject({
        match: false,
        differences: [
          {
            kind: 'header',
            path: `headers.${name}`,
            primary: join(primaryValue),
            candidate: join(candidateValue),
          },
        ],
      });
    }
  });

  it('compares only the configured headers, looked up case-insensitively', () => {
    const primary = response('{}', { headers: { 'content-type': 'application/json', etag: '1' } });
    const candidate = response('{}', {
      headers: { 'Content-Type': 'application/json', etag: '2' },
    });
    expect(compareResponses(primary, candidate, defaults).match).toBe(true);
    expect(compareResponses(primary, candidate, { headers: ['etag'], ignore: [] })).toMatchObject({
      match: false,
      differences: [{ kind: 'header', path: 'headers.etag', primary: '1', candidate: '2' }],
    });
  });
});

describe('compareResponses: JSON bodies', () => {
  it('ignores key order and whitespace', () => {
    const primary = response('{"id":1,"tags":["x","y"],"price":{"amount":10,"currency":"EUR"}}');
    const candidate = response(
      '{\n  "price": { "currency": "EUR", "amount": 10.0 },\n  "tags": ["x", "y"],\n  "id": 1\n}',
    );
    expect(compareResponses(primary, candidate, defaults)).toEqual({
      match: true,
      ignoredDifferences: 0,
    });
  });

  it('reports nested differences by JSON path', () => {
    const primary = {
      order: {
        id: 7,
        items: [
          { sku: 'a', price: 10 },
          { sku: 'b', price: 20 },
        ],
      },
    };
    const candidate = {
      order: {
        id: 7,
        items: [
          { sku: 'a', price: 10 },
          { sku: 'b', price: 21 },
        ],
      },
    };
    expect(bodyDifferences(primary, candidate)).toEqual([
      { kind: 'body', path: '$.order.items[1].price', primary: 20, candidate: 21 },
    ]);
  });

  it('reports missing and extra keys with undefined on the side that lacks them', () => {
    expect(bodyDifferences({ a: 1, b: 2 }, { a: 1, c: 3 })).toEqual([
      { kind: 'body', path: '$.b', primary: 2, candidate: undefined },
      { kind: 'body', path: '$.c', primary: undefined, candidate: 3 },
    ]);
  });

  it('compares arrays by index', () => {
    expect(bodyDifferences([1, 2, 3], [1, 3])).toEqual([
      { kind: 'body', path: '$[1]', primary: 2, candidate: 3 },
      { kind: 'body', path: '$[2]', primary: 3, candidate: undefined },
    ]);
  });

  it.each([
    [{ a: { x: 1 } }, { a: [1] }, '$.a', { x: 1 }, [1]],
    [{ a: null }, { a: {} }, '$.a', null, {}],
    [{ a: '1' }, { a: 1 }, '$.a', '1', 1],
    [{ a: false }, { a: 0 }, '$.a', false, 0],
    [[{ 'odd.key': 1 }], [{ 'odd.key': 2 }], '$[0]["odd.key"]', 1, 2],
    [{ 'with space': 1 }, { 'with space': 2 }, '$["with space"]', 1, 2],
    [{ prénom: 'a' }, { prénom: 'b' }, '$.prénom', 'a', 'b'],
    [{ a: 1 }, [1], '$', { a: 1 }, [1]],
  ])('reports %j vs %j at %s', (primary, candidate, path, primaryValue, candidateValue) => {
    expect(bodyDifferences(primary, candidate)).toEqual([
      { kind: 'body', path, primary: primaryValue, candidate: candidateValue },
    ]);
  });

  it(`records at most ${MAX_DIFFERENCES} differences, or maxDifferences`, () => {
    const primary = Array.from({ length: 200 }, (_, i) => i);
    const candidate = primary.map((i) => i + 1);
    const all = bodyDifferences(primary, candidate);
    expect(all).toHaveLength(MAX_DIFFERENCES);
    expect(all[49]?.path).toBe('$[49]');
    expect(bodyDifferences(primary, candidate, { ...defaults, maxDifferences: 3 })).toHaveLength(3);
  });

  it('abbreviates large values in a difference', () => {
    const big = Array.from({ length: 1000 }, (_, i) => i);
    expect(bodyDifferences({ list: big, s: 'x'.repeat(5000) }, { list: null, s: 'y' })).toEqual([
      { kind: 'body', path: '$.list', primary: '[array of 1000 items]', candidate: null },
      { kind: 'body', path: '$.s', primary: `${'x'.repeat(1024)}…`, candidate: 'y' },
    ]);
  });

  it('treats a body without content-type as JSON when it starts with { or [', () => {
    const primary = response('{"a":1,"b":2}', { headers: {} });
    const candidate = response(' {"b":2,"a":1}', { headers: {} });
    expect(compareResponses(primary, candidate, defaults).match).toBe(true);
  });

  it('compares bytes when JSON nests too deep to walk', () => {
    const depth = 1_000;
    const primary = response(`${'['.repeat(depth)}1${']'.repeat(depth)}`);
    const candidate = response(`${'['.repeat(depth)}2${']'.repeat(depth)}`);
    expect(compareResponses(primary, candidate, defaults)).toMatchObject({
      match: false,
      differences: [{ kind: 'body', path: '$', primary: { offset: depth } }],
    });
  });
});

describe('compareResponses: ignore rules', () => {
  it('counts differences under ignore rules instead of reporting them', () => {
    const primary = {
      id: 1,
      updatedAt: '2024-01-01',
      meta: { requestId: 'a', trace: { requestId: 'b' } },
      items: [
        { sku: 'x', updatedAt: 1 },
        { sku: 'y', updatedAt: 2 },
      ],
    };
    const candidate = {
      id: 1,
      updatedAt: '2024-06-01',
      meta: { requestId: 'c', trace: { requestId: 'd' } },
      items: [
        { sku: 'x', updatedAt: 3 },
        { sku: 'y', updatedAt: 4 },
      ],
    };
    const options = { ...defaults, ignore: ['updatedAt', 'items[*].updatedAt', '**.requestId'] };
    expect(compareResponses(json(primary), json(candidate), options)).toEqual({
      match: true,
      ignoredDifferences: 5,
    });
    const changed = { ...candidate, id: 2 };
    expect(compareResponses(json(primary), json(changed), options)).toEqual({
      match: false,
      ignoredDifferences: 5,
      differences: [{ kind: 'body', path: '$.id', primary: 1, candidate: 2 }],
    });
  });

  it.each([['$'], ['**']])('never ignores status or headers; %s ignores the whole body', (rule) => {
    const candidate = response('<p>oops</p>', {
      status: 201,
      headers: { 'content-type': 'text/html' },
    });
    expect(
      compareResponses(response('{"a":1}'), candidate, { ...defaults, ignore: [rule] }),
    ).toEqual({
      match: false,
      ignoredDifferences: 1,
      differences: [
        { kind: 'status', path: 'status', primary: 200, candidate: 201 },
        {
          kind: 'header',
          path: 'headers.content-type',
          primary: 'application/json',
          candidate: 'text/html',
        },
      ],
    });
  });

  it('does not ignore a byte-level body difference under a narrower rule', () => {
    const html = { headers: { 'content-type': 'text/html' } };
    expect(
      compareResponses(response('<p>a</p>', html), response('<p>b</p>', html), {
        ...defaults,
        ignore: ['p', '**.requestId'],
      }),
    ).toMatchObject({ match: false, ignoredDifferences: 0, differences: [{ path: '$' }] });
  });

  it.each([
    ['updatedAt', ['updatedAt'], true],
    ['updatedAt', ['updatedAt', 'nanos'], true],
    ['updatedAt', ['meta', 'updatedAt'], false],
    ['updatedAt', ['updatedAtUtc'], false],
    ['meta.requestId', ['meta', 'requestId'], true],
    ['meta.requestId', ['meta'], false],
    ['items[*].updatedAt', ['items', 3, 'updatedAt'], true],
    ['items[*].updatedAt', ['items', 3, 'price'], false],
    ['items[*].updatedAt', ['items', 3, 'x', 'updatedAt'], false],
    ['items[0]', ['items', 0, 'price'], true],
    ['items[0]', ['items', 1], false],
    ['items[0]', ['items', '0'], false],
    ['items.0', ['items', '0'], true],
    ['*.etag', ['a', 'etag'], true],
    ['*.etag', [0, 'etag'], true],
    ['*.etag', ['etag'], false],
    ['[*].id', [4, 'id'], true],
    ['**.requestId', ['requestId'], true],
    ['**.requestId', ['a', 2, 'b', 'requestId'], true],
    ['**.requestId', ['a', 'requestIds'], false],
    ['a.**.z', ['a', 'z'], true],
    ['a.**.z', ['a', 'b', 3, 'z'], true],
    ['a.**.z', ['b', 'z'], false],
    ['**', ['anything', 1], true],
    ['$', ['anything'], true],
    ['$.meta', ['meta', 'x'], true],
    ['$[0]', [0], true],
    ['$ref', ['$ref'], true],
    ['["odd.key"].x', ['odd.key', 'x'], true],
    ['$["a\\"b"]', ['a"b'], true],
    ['a["b"]', ['a', 'b'], true],
  ] as const)('rule %s on path %j matches=%s', (rule, path, matches) => {
    expect(parseIgnoreRule(rule).matches(path)).toBe(matches);
  });

  it.each(['items[', 'a..b', '.a', 'a.', 'a[x]', 'a[]', '["open]', '["a"', 'a]b', '[1]x'])(
    'rejects the malformed rule %s',
    (rule) => {
      expect(() => parseIgnoreRule(rule)).toThrow(ConfigError);
      expect(() => parseIgnoreRule(rule)).toThrow(/^shadow\.ignore: /);
    },
  );

  it('throws the rule error from compareResponses when bodies differ', () => {
    expect(() => bodyDifferences({ a: 1 }, { a: 2 }, { ...defaults, ignore: ['a..b'] })).toThrow(
      ConfigError,
    );
  });
});

describe('compareResponses: other bodies', () => {
  it('compares non-JSON bodies by bytes, reporting sizes and the first differing offset', () => {
    const html = { headers: { 'content-type': 'text/html' } };
    expect(
      compareResponses(response('<p>hello</p>', html), response('<p>hello</p>', html), defaults),
    ).toEqual({ match: true, ignoredDifferences: 0 });
    expect(
      compareResponses(response('<p>hello</p>', html), response('<p>help!</p>!', html), defaults),
    ).toEqual({
      match: false,
      ignoredDifferences: 0,
      differences: [
        {
          kind: 'body',
          path: '$',
          primary: { size: 12, truncated: false, offset: 6, excerpt: 'lo</p>' },
          candidate: { size: 13, truncated: false, offset: 6, excerpt: 'p!</p>!' },
        },
      ],
    });
  });

  it.each([
    ['text/plain bodies that happen to be JSON', 'text/plain', '{"a":1}', '{ "a": 1 }'],
    [
      'a JSON content-type with a body that does not parse',
      'application/json',
      '{"a":1',
      '{"a": 1',
    ],
    ['a JSON body against an HTML error page', 'application/json', '{"a":1}', '<h1>500</h1>'],
  ])('compares bytes for %s', (_, contentType, a, b) => {
    const init = { headers: { 'content-type': contentType } };
    expect(compareResponses(response(a, init), response(b, init), defaults)).toMatchObject({
      match: false,
      differences: [{ kind: 'body', path: '$' }],
    });
  });

  it('reports a binary difference once', () => {
    const init = { headers: { 'content-type': 'image/png' } };
    const a = Buffer.alloc(10_000, 1);
    const b = Buffer.from(a);
    b[9_000] = 2;
    expect(compareResponses(response(a, init), response(b, init), defaults)).toMatchObject({
      match: false,
      differences: [{ path: '$', primary: { size: 10_000, offset: 9_000 } }],
    });
  });
});

describe('compareResponses: content-encoding', () => {
  const encoded = (coding: string, bytes: Buffer, truncated = false) =>
    response(bytes, {
      headers: { 'content-type': 'application/json', 'content-encoding': coding },
      truncated,
    });
  const body = Buffer.from(JSON.stringify({ id: 1, items: ['a', 'b'], note: 'x'.repeat(200) }));

  it.each([
    ['gzip', gzipSync(body, { level: 9 })],
    ['x-gzip', gzipSync(body)],
    ['deflate', deflateSync(body)],
    ['deflate', deflateRawSync(body)],
    ['br', brotliCompressSync(body)],
  ])('compares a %s body as the client reads it', (coding, bytes) => {
    const plain = response(body);
    const otherLevel = encoded('gzip', gzipSync(body, { level: 1 }));
    expect(compareResponses(plain, encoded(coding, bytes), defaults).match).toBe(true);
    expect(compareResponses(otherLevel, encoded(coding, bytes), defaults).match).toBe(true);
    const changed = Buffer.from(body.toString().replace('"id":1', '"id":2'));
    expect(
      compareResponses(encoded(coding, bytes), json(JSON.parse(changed.toString())), defaults),
    ).toEqual({
      match: false,
      ignoredDifferences: 0,
      differences: [{ kind: 'body', path: '$.id', primary: 1, candidate: 2 }],
    });
  });

  it('compares bytes when a body cannot be decoded', () => {
    const corrupt = encoded('gzip', Buffer.from('not gzip at all'));
    expect(compareResponses(corrupt, response(body), defaults)).toMatchObject({
      match: false,
      differences: [{ kind: 'body', path: '$' }],
    });
    expect(compareResponses(encoded('zstd', body), response(body), defaults).match).toBe(true);
  });

  it('reports no body difference from truncated compressed captures', () => {
    const a = encoded('gzip', gzipSync(body, { level: 1 }).subarray(0, 40), true);
    const b = encoded('gzip', gzipSync(body, { level: 9 }).subarray(0, 40), true);
    expect(compareResponses(a, b, defaults)).toEqual({
      match: true,
      ignoredDifferences: 0,
      truncated: true,
    });
  });
});

describe('compareResponses: truncated captures', () => {
  const big = 'x'.repeat(16);

  it.each([
    {
      name: 'both truncated, same captured bytes: body unknown, not a difference',
      primary: response(big, { truncated: true }),
      candidate: response(big, { truncated: true }),
      body: undefined,
    },
    {
      name: 'both truncated, captured bytes differ',
      primary: response(big, { truncated: true }),
      candidate: response(`${big.slice(0, 10)}y${big.slice(11)}`, { truncated: true }),
      body: { offset: 10 },
    },
    {
      name: 'one side over the limit, the other within it: sizes differ',
      primary: response(big.slice(0, 12)),
      candidate: response(big, { truncated: true }),
      body: { offset: 12 },
    },
    {
      name: 'a complete body as long as the other side’s capture still differs in size',
      primary: response(big, { truncated: true }),
      candidate: response(big),
      body: { offset: 16 },
    },
    {
      name: 'a complete body longer than a smaller capture with the same start: unknown',
      primary: response(big.slice(0, 8), { truncated: true }),
      candidate: response(big),
      body: undefined,
    },
    {
      name: 'JSON is not parsed from a truncated capture (key order now counts)',
      primary: response('{"a":1,"b":2}', { truncated: true }),
      candidate: response('{"b":2,"a":1}', { truncated: true }),
      body: { offset: 2 },
    },
  ])('$name', ({ primary, candidate, body }) => {
    const comparison = compareResponses(primary, candidate, defaults);
    if (body === undefined) {
      expect(comparison).toEqual({ match: true, ignoredDifferences: 0, truncated: true });
    } else {
      expect(comparison).toMatchObject({
        match: false,
        truncated: true,
        differences: [{ kind: 'body', path: '$', primary: body, candidate: body }],
      });
    }
  });

  it('still compares status and headers', () => {
    const comparison = compareResponses(
      response(big, { truncated: true }),
      response(big, { truncated: true, status: 404, headers: { 'content-type': 'text/html' } }),
      defaults,
    );
    expect(comparison).toMatchObject({
      match: false,
      truncated: true,
      differences: [{ kind: 'status' }, { kind: 'header', path: 'headers.content-type' }],
    });
  });

  it('marks the summary of the truncated side', () => {
    const comparison = compareResponses(
      response('abc'),
      response('abcd', { truncated: true }),
      defaults,
    );
    expect(comparison).toMatchObject({
      differences: [
        {
          primary: { size: 3, truncated: false, excerpt: '' },
          candidate: { size: 4, truncated: true, excerpt: 'd' },
        },
      ],
    });
  });
});
