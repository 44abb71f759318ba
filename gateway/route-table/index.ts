export * from './schema.js';
export { parseRouteTable, RouteTableError, type RouteTableProblem } from './validate.js';
export {
  compileRoutes,
  cookieValue,
  headerValue,
  patternToRegExp,
  type CompiledRoute,
  type RouteMatcher,
} from './matcher.js';
