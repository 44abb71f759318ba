/**
 * Finds the route for a request. Routes are tried in table order; the first whose method, path
 * pattern and optional header/cookie condition all match wins. Matching runs on the normalised
 * path (see ../path.ts), never the raw one.
 */
import type { HttpMethod, Route, RouteTable } from './schema.js';

/** A route ready for matching. */
export interface CompiledRoute {
  readonly route: Route;
  /** Index in the table. */
  readonly index: number;
  matches(
    method: string,
    path: string,
    headers: Readonly<Record<string, string | string[] | undefined>>,
  ): boolean;
}

/** The route table compiled for fast matching. */
export interface RouteMatcher {
  /** The first matching route, or undefined (the request goes to legacy). */
  match(
    method: string,
    path: string,
    headers: Readonly<Record<string, string | string[] | undefined>>,
  ): CompiledRoute | undefined;
  readonly routes: readonly CompiledRoute[];
}

/** Compiles every route's pattern once per table version. */
export function compileRoutes(table: RouteTable): RouteMatcher {
  const routes = table.routes.map((route, index) => compileRoute(route, index));
  return {
    routes,
    match(method, path, headers) {
      for (const compiled of routes) if (compiled.matches(method, path, headers)) return compiled;
      return undefined;
    },
  };
}

function compileRoute(route: Route, index: number): CompiledRoute {
  const methods = route.methods ? new Set<string>(route.methods) : undefined;
  if (methods?.has('GET')) methods.add('HEAD' satisfies HttpMethod);
  const pattern = patternToRegExp(route.path);
  return {
    route,
    index,
    matches(method, path, headers) {
      if (methods && !methods.has(method)) return false;
      if (!pattern.test(path)) return false;
      if (
        route.header &&
        !conditionHolds(headerValue(headers, route.header.name), route.header.value)
      )
        return false;
      if (
        route.cookie &&
        !conditionHolds(cookieValue(headers, route.cookie.name), route.cookie.value)
      )
        return false;
      return true;
    },
  };
}

/**
 * `/products/:id` matches `/products/42` (one segment per parameter); a final `/*` matches any rest
 * including nothing (`/static/*` matches `/static` and `/static/a/b`); a trailing slash is ignored.
 */
export function patternToRegExp(pattern: string): RegExp {
  const segments = pattern.split('/').slice(1);
  let source = '';
  segments.forEach((segment, i) => {
    if (segment === '*' && i === segments.length - 1) source += '(?:/.*)?';
    else if (segment === '*') source += '/[^/]+';
    else if (segment.startsWith(':')) source += '/[^/]+';
    else if (segment === '') source += '';
    else source += `/${segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`;
  });
  return new RegExp(`^${source}/?$`);
}

function conditionHolds(actual: string | undefined, expected: string | undefined): boolean {
  return expected === undefined ? actual !== undefined : actual === expected;
}

/** A request header's value (the first, when repeated). */
export function headerValue(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  name: string,
): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** A cookie's value from the Cookie header. */
export function cookieValue(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  name: string,
): string | undefined {
  const header = headerValue(headers, 'cookie');
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name)
      return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}
