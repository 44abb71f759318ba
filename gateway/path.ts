/**
 * Request-path normalisation, so a route cannot be reached (or dodged) through an alternative
 * spelling of its path: `/a/../admin`, `/%61dmin`, `//admin`, `/admin/./`.
 *
 * RFC 3986 §6.2.2: percent-encoded unreserved characters are decoded, remaining escapes
 * upper-cased, dot segments removed (§5.2.4); repeated slashes are collapsed. Encoded slashes,
 * backslashes and NUL, and dot segments that climb above the root, are refused outright: no
 * legitimate client sends them, and upstreams disagree about what they mean.
 */
import { FicusError } from '../common/index.js';

/** The path was refused: answered with 400 and never proxied. */
export class InvalidPathError extends FicusError {
  constructor(reason: string) {
    super('FICUS_INVALID_PATH', `request path refused: ${reason}`, { statusCode: 400 });
  }
}

const UNRESERVED = /[A-Za-z0-9\-._~]/;

/** Normalises the path part of a request target (no query). Throws InvalidPathError. */
export function normalizePath(rawPath: string): string {
  if (!rawPath.startsWith('/')) throw new InvalidPathError('it must start with /');
  if (rawPath.includes('\\')) throw new InvalidPathError('backslashes are not allowed');
  // Fast path: nothing to decode, no dot segments, no empty segments.
  if (!/%|\/\.|\/\//.test(rawPath)) return rawPath;

  let decoded = '';
  for (let i = 0; i < rawPath.length; i++) {
    const c = rawPath[i]!;
    if (c !== '%') {
      decoded += c;
      continue;
    }
    const hex = rawPath.slice(i + 1, i + 3);
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) throw new InvalidPathError(`malformed escape %${hex}`);
    const code = Number.parseInt(hex, 16);
    if (code === 0x2f || code === 0x5c || code === 0x00) {
      throw new InvalidPathError(
        `encoded ${code === 0x2f ? 'slash' : code === 0x5c ? 'backslash' : 'NUL'} %${hex}`,
      );
    }
    const char = String.fromCharCode(code);
    decoded += UNRESERVED.test(char) ? char : `%${hex.toUpperCase()}`;
    i += 2;
  }

  const output: string[] = [];
  const segments = decoded.split('/');
  for (let i = 1; i < segments.length; i++) {
    const segment = segments[i]!;
    const last = i === segments.length - 1;
    if (segment === '.' || (segment === '' && !last)) {
      if (last) output.push('');
      continue;
    }
    if (segment === '..') {
      if (output.length === 0) throw new InvalidPathError('it climbs above the root');
      output.pop();
      if (last) output.push('');
      continue;
    }
    output.push(segment);
  }
  return `/${output.join('/')}`;
}

/** Splits a request target into the normalised path and the raw query (with its `?`, or ''). */
export function splitTarget(url: string): { path: string; query: string } {
  const q = url.indexOf('?');
  return q < 0
    ? { path: normalizePath(url), query: '' }
    : { path: normalizePath(url.slice(0, q)), query: url.slice(q) };
}
