/**
 * Compares the two answers to one mirrored request: the primary (the side the client got, the
 * monolith) and the candidate (the new service). Pure and synchronous; the server captures the
 * responses and calls it off the client's path.
 *
 * - Status codes must be equal.
 * - Each header named in `shadow.headers` must be equal. Repeated headers are joined with ", "
 *   (RFC 9110 §5.3). `content-type` is compared as a media type (RFC 9110 §8.3.1): type, subtype
 *   and parameter names are case-insensitive, parameter order and quoting do not matter, the
 *   charset value is case-insensitive, and `charset=utf-8` on a JSON type is ignored because JSON
 *   has no charset parameter and is always UTF-8 (RFC 8259 §8.1, §11).
 * - Bodies are compared as the client reads them: a gzip, deflate or br content-encoding is undone
 *   first (RFC 9110 §8.4.1), since two servers compress the same content to different bytes.
 * - Bodies that are byte-equal match. When both are JSON they are compared structurally: key order
 *   is irrelevant, arrays are compared by index, numbers by value. Anything else is compared by
 *   bytes and reported as one `$` difference with each side's size, the first differing offset
 *   and an excerpt from there.
 * - A truncated capture (a body over the capture limit) cannot be compared in full. Only the
 *   captured bytes are compared, and the comparison carries `truncated: true`. It reports a
 *   body difference only when it is certain: the captured bytes differ, or one side ended before
 *   the other side's capture did (so the sizes differ). A truncated compressed body cannot be
 *   decoded, so when either side is compressed a truncated comparison reports no body difference.
 */
import { brotliDecompressSync, gunzipSync, inflateRawSync, inflateSync } from 'node:zlib';
import { ConfigError } from '../../common/index.js';
import type { ShadowOptions } from '../route-table/index.js';

/** One side's response as the gateway captured it. */
export interface CapturedResponse {
  status: number;
  /** Lower-case names, as Node delivers them. */
  headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The body, or its first bytes when `truncated`. */
  body: Buffer;
  /** The body was larger than the capture limit; `body` holds only its beginning. */
  truncated: boolean;
}

/**
 * One way the candidate differs from the primary. `path` is `status`, `headers.<name>` or a JSON
 * path into the body (`$`, `$.items[3].price`, `$["odd.key"]`). A side whose key or array element
 * is absent reports `undefined`; large objects and strings are abbreviated.
 */
export interface Difference {
  kind: 'status' | 'header' | 'body';
  path: string;
  primary: unknown;
  candidate: unknown;
}

/** What a byte-level body difference reports for each side. */
export interface BodySummary {
  /** Bytes captured. */
  size: number;
  /** The body was larger than `size` (over the capture limit). */
  truncated: boolean;
  /** First byte at which the two captures differ (or where the shorter one ends). */
  offset: number;
  /** Up to 32 bytes from `offset`, decoded as UTF-8. */
  excerpt: string;
}

/**
 * The verdict on one mirrored request. Differences under an ignore rule are only counted.
 * `truncated` is set when a body was over the capture limit and so compared only in part.
 */
export type Comparison =
  | { match: true; ignoredDifferences: number; truncated?: true }
  | { match: false; differences: Difference[]; ignoredDifferences: number; truncated?: true };

/** The shadow settings a comparison uses, plus how many differences to record at most. */
export type CompareOptions = Pick<ShadowOptions, 'headers' | 'ignore'> & {
  /** Stop recording (and looking) after this many differences; default {@link MAX_DIFFERENCES}. */
  maxDifferences?: number;
};

/** Differences recorded per comparison unless `maxDifferences` says otherwise. */
export const MAX_DIFFERENCES = 50;

/** Compares the candidate's response against the primary's. Throws ConfigError on a malformed ignore rule. */
export function compareResponses(
  primary: CapturedResponse,
  candidate: CapturedResponse,
  options: CompareOptions,
): Comparison {
  const max = options.maxDifferences ?? MAX_DIFFERENCES;
  const differences: Difference[] = [];
  if (primary.status !== candidate.status) {
    differences.push({
      kind: 'status',
      path: 'status',
      primary: primary.status,
      candidate: candidate.status,
    });
  }
  for (const name of options.headers) {
    const a = headerText(primary.headers, name);
    const b = headerText(candidate.headers, name);
    if (!headerValuesEqual(name, a, b)) {
      differences.push({ kind: 'header', path: `headers.${name}`, primary: a, candidate: b });
    }
  }
  const truncated = primary.truncated || candidate.truncated;
  const ignoredDifferences = compareBodies(primary, candidate, options.ignore, differences, max);
  const extra = truncated ? { truncated: true as const } : {};
  return differences.length === 0
    ? { match: true, ignoredDifferences, ...extra }
    : { match: false, differences: differences.slice(0, max), ignoredDifferences, ...extra };
}

// ---------------------------------------------------------------------------------------------
// Headers

function headerText(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  name: string,
): string | undefined {
  let value = headers[name];
  if (value === undefined) {
    const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
    if (key !== undefined) value = headers[key];
  }
  return Array.isArray(value) ? value.join(', ') : value?.trim();
}

function headerValuesEqual(name: string, a: string | undefined, b: string | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  return name === 'content-type' && normalizeMediaType(a) === normalizeMediaType(b);
}

/** `Application/JSON; Charset="UTF-8"` → `application/json`; `text/html; b=2; a=1` → `text/html;a=1;b=2`. */
export function normalizeMediaType(value: string): string {
  const [type = '', ...rawParameters] = value.split(';');
  const mediaType = type.trim().toLowerCase();
  const json = isJsonMediaType(mediaType);
  const parameters: string[] = [];
  for (const raw of rawParameters) {
    const eq = raw.indexOf('=');
    if (eq < 0) continue;
    const name = raw.slice(0, eq).trim().toLowerCase();
    let parameterValue = raw.slice(eq + 1).trim();
    if (
      parameterValue.length >= 2 &&
      parameterValue.startsWith('"') &&
      parameterValue.endsWith('"')
    )
      parameterValue = parameterValue.slice(1, -1);
    if (name === 'charset') parameterValue = parameterValue.toLowerCase();
    if (json && name === 'charset' && parameterValue === 'utf-8') continue;
    parameters.push(`${name}=${parameterValue}`);
  }
  return [mediaType, ...parameters.sort()].join(';');
}

function isJsonMediaType(mediaType: string): boolean {
  return mediaType === 'application/json' || mediaType.endsWith('+json');
}

// ---------------------------------------------------------------------------------------------
// Bodies

/** Returns the number of ignored differences. */
function compareBodies(
  primary: CapturedResponse,
  candidate: CapturedResponse,
  ignore: readonly string[],
  out: Difference[],
  max: number,
): number {
  const diff = new BodyDiff(ignore, out, max);
  if (primary.truncated || candidate.truncated) {
    // Compressed prefixes say nothing: two encoders write different bytes for the same content.
    if (!isEncoded(primary) && !isEncoded(candidate)) comparePrefixes(primary, candidate, diff);
    return diff.ignored;
  }
  if (primary.body.equals(candidate.body)) return 0;
  const decodedPrimary = decodeBody(primary);
  const decodedCandidate = decodeBody(candidate);
  if (decodedPrimary !== undefined && decodedCandidate !== undefined) {
    if (decodedPrimary.equals(decodedCandidate)) return 0;
    primary = { ...primary, body: decodedPrimary };
    candidate = { ...candidate, body: decodedCandidate };
  }
  const a = parseJsonBody(primary);
  const b = parseJsonBody(candidate);
  if (a !== NOT_JSON && b !== NOT_JSON) {
    const before = out.length;
    diff.walk(a, b);
    if (!diff.tooDeep) return diff.ignored;
    out.length = before;
    diff.ignored = 0;
  }
  diff.bytes(primary, candidate, firstDifferingByte(primary.body, candidate.body));
  return diff.ignored;
}

/** At least one side is truncated: compare what was captured, report only certain differences. */
function comparePrefixes(
  primary: CapturedResponse,
  candidate: CapturedResponse,
  diff: BodyDiff,
): void {
  const offset = firstDifferingByte(primary.body, candidate.body);
  const shorter = Math.min(primary.body.length, candidate.body.length);
  const endsFirst = (side: CapturedResponse, other: CapturedResponse) =>
    !side.truncated && side.body.length <= other.body.length;
  if (offset < shorter || endsFirst(primary, candidate) || endsFirst(candidate, primary)) {
    diff.bytes(primary, candidate, offset);
  }
}

function summarize(side: CapturedResponse, offset: number): BodySummary {
  return {
    size: side.body.length,
    truncated: side.truncated,
    offset,
    excerpt: side.body.subarray(offset, offset + 32).toString('utf8'),
  };
}

/** Index of the first differing byte, or the shorter length when one is a prefix of the other. */
function firstDifferingByte(a: Buffer, b: Buffer): number {
  const length = Math.min(a.length, b.length);
  const chunk = 4096;
  let start = 0;
  while (start < length) {
    const end = Math.min(start + chunk, length);
    if (!a.subarray(start, end).equals(b.subarray(start, end))) {
      for (let i = start; i < end; i++) if (a[i] !== b[i]) return i;
    }
    start = end;
  }
  return length;
}

/** Decoded bodies larger than this are compared as they came (a guard against zip bombs). */
const MAX_DECODED_BYTES = 16 * 1024 * 1024;

function contentEncoding(side: CapturedResponse): string {
  return (headerText(side.headers, 'content-encoding') ?? 'identity').toLowerCase();
}

function isEncoded(side: CapturedResponse): boolean {
  return contentEncoding(side) !== 'identity';
}

/**
 * The body with its content-encoding (gzip, deflate, br) undone, as the client would read it.
 * Undefined when that is impossible: a truncated capture, an unknown or stacked coding, corrupt
 * data, or more than 16 MiB decoded. Bodies without a content-encoding come back as they are.
 */
export function decodeBody(side: CapturedResponse): Buffer | undefined {
  const coding = contentEncoding(side);
  if (coding === 'identity') return side.body;
  if (side.truncated) return undefined;
  const limits = { maxOutputLength: MAX_DECODED_BYTES };
  try {
    switch (coding) {
      case 'gzip':
      case 'x-gzip':
        return gunzipSync(side.body, limits);
      case 'deflate':
        // RFC 9110 §8.4.1.2 means zlib-wrapped deflate; some servers send it raw.
        return side.body[0] === 0x78
          ? inflateSync(side.body, limits)
          : inflateRawSync(side.body, limits);
      case 'br':
        return brotliDecompressSync(side.body, limits);
      default:
        return undefined;
    }
  } catch {
    return undefined;
  }
}

const NOT_JSON = Symbol('not JSON');
const JSON_WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0d, 0xef, 0xbb, 0xbf]); // and a UTF-8 BOM

/**
 * A body is JSON when its content-type is `application/json` or `*+json`, or when it has no
 * content-type and starts with `{` or `[`, and it parses.
 */
function parseJsonBody(side: CapturedResponse): unknown {
  const contentType = headerText(side.headers, 'content-type');
  if (contentType === undefined) {
    const first = side.body.find((byte) => !JSON_WHITESPACE.has(byte));
    if (first !== 0x7b && first !== 0x5b) return NOT_JSON;
  } else if (!isJsonMediaType(normalizeMediaType(contentType).split(';')[0] ?? '')) {
    return NOT_JSON;
  }
  try {
    return JSON.parse(side.body.toString('utf8').replace(/^\uFEFF/, '')) as unknown;
  } catch {
    return NOT_JSON;
  }
}

type PathSegment = string | number;

/** JSON nested deeper than this is compared by bytes. */
const MAX_DEPTH = 256;

/**
 * Records body differences, counting those under an ignore rule. `walk` compares two parsed JSON
 * values structurally; `bytes` records a byte-level difference at `$`.
 */
class BodyDiff {
  ignored = 0;
  /** The values nest deeper than {@link MAX_DEPTH}; the walk gave up. */
  tooDeep = false;
  private readonly path: PathSegment[] = [];
  private rules: IgnoreRule[] | undefined;

  constructor(
    private readonly ignore: readonly string[],
    private readonly out: Difference[],
    private readonly max: number,
  ) {}

  walk(a: unknown, b: unknown): void {
    if (a === b || this.out.length >= this.max || this.tooDeep) return;
    const containers = typeof a === 'object' && typeof b === 'object' && a !== null && b !== null;
    if (containers && this.path.length >= MAX_DEPTH) {
      this.tooDeep = true;
      return;
    }
    if (Array.isArray(a) && Array.isArray(b)) {
      const length = Math.max(a.length, b.length);
      for (let i = 0; i < length && this.out.length < this.max; i++) {
        this.path.push(i);
        this.walk(a[i], b[i]);
        this.path.pop();
      }
      return;
    }
    if (isObject(a) && isObject(b)) {
      for (const key of Object.keys(a)) {
        if (this.out.length >= this.max) return;
        this.path.push(key);
        this.walk(a[key], Object.hasOwn(b, key) ? b[key] : undefined);
        this.path.pop();
      }
      for (const key of Object.keys(b)) {
        if (this.out.length >= this.max) return;
        if (Object.hasOwn(a, key)) continue;
        this.path.push(key);
        this.differ(undefined, b[key]);
        this.path.pop();
      }
      return;
    }
    this.differ(a, b);
  }

  bytes(primary: CapturedResponse, candidate: CapturedResponse, offset: number): void {
    this.differ(summarize(primary, offset), summarize(candidate, offset));
  }

  private differ(a: unknown, b: unknown): void {
    // Rules are parsed on the first difference only: matching bodies never pay for them.
    this.rules ??= this.ignore.map(parseIgnoreRule);
    if (this.rules.some((rule) => rule.matches(this.path))) {
      this.ignored++;
      return;
    }
    this.out.push({
      kind: 'body',
      path: formatJsonPath(this.path),
      primary: abbreviate(a),
      candidate: abbreviate(b),
    });
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const PREVIEW_CHARS = 1024;

function abbreviate(value: unknown): unknown {
  if (typeof value === 'string') {
    return value.length > PREVIEW_CHARS ? `${value.slice(0, PREVIEW_CHARS)}…` : value;
  }
  if (typeof value !== 'object' || value === null) return value;
  if (JSON.stringify(value).length <= PREVIEW_CHARS) return value;
  return Array.isArray(value)
    ? `[array of ${value.length} items]`
    : `[object with ${Object.keys(value).length} keys]`;
}

const SIMPLE_KEY = /^[\p{L}\p{N}_$@-]+$/u;

/** `['items', 3, 'price']` → `$.items[3].price`; keys that are not simple names are quoted. */
export function formatJsonPath(path: readonly PathSegment[]): string {
  let text = '$';
  for (const segment of path) {
    if (typeof segment === 'number') text += `[${segment}]`;
    else if (SIMPLE_KEY.test(segment)) text += `.${segment}`;
    else text += `[${JSON.stringify(segment)}]`;
  }
  return text;
}

// ---------------------------------------------------------------------------------------------
// Ignore rules

/** A parsed ignore rule. */
export interface IgnoreRule {
  readonly source: string;
  /** True when the rule selects this JSON path or one of its ancestors. */
  matches(path: readonly PathSegment[]): boolean;
}

type Step =
  | { kind: 'key'; name: string }
  | { kind: 'index'; index: number }
  | { kind: 'one' }
  | { kind: 'any-depth' };

/**
 * Parses a `shadow.ignore` rule. A rule is a path from the top of the JSON body, matched against
 * each body difference's path; a difference at or below a matched path is ignored (counted, not
 * reported). Ignore rules apply to body differences only, never to status or headers; a byte-level
 * body difference has the path `$`, so only `$` and `**` ignore it.
 *
 *   updatedAt              the top-level key updatedAt (and anything inside it)
 *   meta.requestId         a nested key
 *   items[*].updatedAt     updatedAt of every element of items
 *   items[0]               the first element only
 *   *.etag                 etag one level down, under any key or index
 *   **.requestId           requestId at any depth, including the top level
 *   ["odd.key"].x          a key that is not a simple name, quoted as a JSON string
 *   $.meta                 an optional leading `$` names the root; `$` alone ignores the whole body
 *
 * `*` and `[*]` match exactly one key or array index; `**` matches any number of them, including
 * none. A bare name matches an object key only, `[n]` an array index only.
 */
export function parseIgnoreRule(rule: string): IgnoreRule {
  const steps = parseSteps(rule);
  return {
    source: rule,
    matches: (path) => matchSteps(steps, 0, path, 0),
  };
}

function parseSteps(rule: string): Step[] {
  const fail = (problem: string): never => {
    throw new ConfigError(
      `shadow.ignore: ${JSON.stringify(rule)} ${problem}; rules look like updatedAt, items[*].price, **.requestId or $["odd.key"]`,
    );
  };
  const steps: Step[] = [];
  let i = 0;
  const rooted = rule === '$' || rule.startsWith('$.') || rule.startsWith('$[');
  if (rooted) i = 1;
  while (i < rule.length) {
    if (rule[i] === '[') {
      const close = rule.startsWith('["', i) ? closingQuote(rule, i + 2) + 1 : rule.indexOf(']', i);
      if (close <= i || rule[close] !== ']') return fail(`has an unclosed [ at position ${i}`);
      const inner = rule.slice(i + 1, close);
      if (inner === '*') steps.push({ kind: 'one' });
      else if (/^\d+$/.test(inner)) steps.push({ kind: 'index', index: Number(inner) });
      else if (inner.startsWith('"')) steps.push({ kind: 'key', name: parseQuoted(inner, fail) });
      else fail(`has [${inner}], but brackets hold an index, * or a "quoted key"`);
      i = close + 1;
      continue;
    }
    if (rule[i] === '.') {
      if (steps.length === 0 && !rooted) fail('starts with a dot');
      i++;
    } else if (steps.length > 0 || rooted) {
      fail(`needs a dot or [ at position ${i}`);
    }
    let end = i;
    while (end < rule.length && rule[end] !== '.' && rule[end] !== '[') end++;
    const name = rule.slice(i, end);
    if (name === '') fail(`has an empty segment at position ${i}`);
    if (name.includes(']')) fail(`has a stray ] in ${JSON.stringify(name)}`);
    if (name === '**') steps.push({ kind: 'any-depth' });
    else if (name === '*') steps.push({ kind: 'one' });
    else steps.push({ kind: 'key', name });
    i = end;
  }
  return steps;
}

/** Index of the `"` closing a JSON string whose contents start at `from`, or -1. */
function closingQuote(text: string, from: number): number {
  for (let i = from; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === '"') return i;
  }
  return -1;
}

function parseQuoted(quoted: string, fail: (problem: string) => never): string {
  try {
    const value: unknown = JSON.parse(quoted);
    if (typeof value === 'string') return value;
  } catch {
    // reported below
  }
  return fail(`has ${quoted}, which is not a JSON string`);
}

function matchSteps(
  steps: readonly Step[],
  s: number,
  path: readonly PathSegment[],
  p: number,
): boolean {
  const step = steps[s];
  if (step === undefined) return true;
  if (step.kind === 'any-depth') {
    for (let q = p; q <= path.length; q++) if (matchSteps(steps, s + 1, path, q)) return true;
    return false;
  }
  const segment = path[p];
  if (segment === undefined) return false;
  const ok =
    step.kind === 'one' || (step.kind === 'key' ? segment === step.name : segment === step.index);
  return ok && matchSteps(steps, s + 1, path, p + 1);
}
