/**
 * Sticky canary assignment. A request's key (a header, a cookie, or the client IP) is hashed with
 * the route id into one of 10 000 buckets; the request goes to the new side when its bucket is
 * below weight × 100. The same key always lands in the same bucket, so raising the weight only
 * adds keys to the new side and a user never flips back and forth.
 */
import type { IncomingMessage } from 'node:http';
import { cookieValue, headerValue, type Route } from './route-table/index.js';

/** Header that forces a side for testers: `legacy` or `new`. */
export const FORCE_HEADER = 'x-ficus-route';

/** 32-bit FNV-1a: stable across processes and versions, fast, good enough spread for bucketing. */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** The bucket (0–9999) a key falls in for a route. */
export function canaryBucket(routeId: string, key: string): number {
  return fnv1a(`${routeId}\u0000${key}`) % 10_000;
}

/** The key a canary route is sticky on; the client IP when the configured header or cookie is absent. */
export function stickyKey(route: Route, request: IncomingMessage): string {
  const sticky = route.sticky;
  let key: string | undefined;
  if ('header' in sticky) key = headerValue(request.headers, sticky.header);
  else if ('cookie' in sticky) key = cookieValue(request.headers, sticky.cookie);
  return key ?? request.socket.remoteAddress ?? '';
}

/** True when a canary route sends this request to the new side. */
export function isOnNewSide(route: Route, request: IncomingMessage): boolean {
  if (route.weight <= 0) return false;
  if (route.weight >= 100) return true;
  return canaryBucket(route.id, stickyKey(route, request)) < route.weight * 100;
}
