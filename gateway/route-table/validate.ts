import { FicusError } from '../../common/index.js';
import { routeTableSchema, type RouteTable } from './schema.js';

/** A problem found in a route table: names the route, the field and what is wrong. */
export interface RouteTableProblem {
  /** The route's id when the problem is in a route, else undefined. */
  readonly route: string | undefined;
  /** Dotted path of the field, e.g. `routes[2].weight`. */
  readonly field: string;
  readonly message: string;
}

/** A route table was refused; the running one stays. */
export class RouteTableError extends FicusError {
  readonly problems: readonly RouteTableProblem[];
  constructor(problems: readonly RouteTableProblem[]) {
    super(
      'FICUS_ROUTES_INVALID',
      `route table refused: ${problems.map(describeProblem).join('; ')}`,
      { statusCode: 400 },
    );
    this.problems = problems;
  }
}

function describeProblem(problem: RouteTableProblem): string {
  return `${problem.route ? `route ${problem.route}: ` : ''}${problem.field}: ${problem.message}`;
}

/**
 * Validates a route table (as parsed from YAML or received as JSON) and fills in defaults. Every
 * problem is reported, each naming the route, the field and what is allowed.
 */
export function parseRouteTable(input: unknown): RouteTable {
  const result = routeTableSchema.safeParse(input);
  if (result.success) return Object.freeze(result.data);
  const routes = (input as { routes?: unknown[] } | null)?.routes;
  const problems = result.error.issues.map((issue): RouteTableProblem => {
    const path = issue.path;
    let route: string | undefined;
    if (path[0] === 'routes' && typeof path[1] === 'number') {
      const id = (routes?.[path[1]] as { id?: unknown } | undefined)?.id;
      route = typeof id === 'string' ? id : `#${path[1] + 1}`;
    }
    const field = path.reduce<string>(
      (text, part) =>
        typeof part === 'number'
          ? `${text}[${part}]`
          : text
            ? `${text}.${String(part)}`
            : String(part),
      '',
    );
    const value = path.reduce<unknown>(
      (current, part) =>
        current && typeof current === 'object'
          ? (current as Record<PropertyKey, unknown>)[part]
          : undefined,
      input,
    );
    const got =
      value === undefined || typeof value === 'object' ? '' : `, got ${JSON.stringify(value)}`;
    return { route, field: field || 'table', message: `${issue.message}${got}` };
  });
  throw new RouteTableError(problems);
}
