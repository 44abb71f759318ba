import { parseArgs } from 'node:util';
import { ConfigError } from '../../common/index.js';
import { createAdminClient, ROUTE_MODES, type RouteMode } from '../../gateway/index.js';
import type { Command } from '../command.js';

const commonOptions = `Options:
  --gateway URL    the gateway (default http://127.0.0.1:8080)   env FICUS_GATEWAY_URL
  --actor NAME     who is making the change (default: $USER)     env FICUS_ACTOR
  --json           print the API's JSON instead of a table
  -h, --help       show this help

Environment:
  FICUS_ADMIN_TOKEN  the gateway's admin token (required)`;

const subcommands = [
  {
    name: 'list',
    summary: 'every route with its mode, weight and service',
    help: `Usage: ficus routes list [--gateway URL] [--json]

Prints the gateway's current route table: its version (who changed it, when and why), the legacy
upstream, and every route with its mode, canary weight, methods, path and service.

${commonOptions}`,
  },
  {
    name: 'set',
    summary: 'change a route (the reason goes into the history)',
    help: `Usage: ficus routes set <route-id> --reason TEXT [--mode legacy|shadow|canary|new]
                        [--weight 0-100] [--gateway URL] [--actor NAME] [--json]

Changes one route of the running gateway and records a new version of the route table with the
actor and the reason. Give --mode, --weight or both; the weight (percent of requests sent to the
service) only matters in canary mode. Prints the new version.

  --reason TEXT    why (required; it goes into the history)
  --mode MODE      legacy | shadow | canary | new
  --weight N       canary weight, 0 to 100

${commonOptions}`,
  },
  {
    name: 'history',
    summary: 'every version: who, when, why',
    help: `Usage: ficus routes history [--gateway URL] [--json]

Prints every version of the route table, oldest first: version number, time, kind of change,
actor and reason. 'ficus routes restore' brings an earlier version back.

${commonOptions}`,
  },
  {
    name: 'restore',
    summary: 'make an earlier version current again (as a new version)',
    help: `Usage: ficus routes restore <version> --reason TEXT [--gateway URL] [--actor NAME] [--json]

Makes an earlier version of the route table (see 'ficus routes history') current again. Nothing is
rewritten: the restore is recorded as a new version, with the actor and the reason.

  --reason TEXT    why (required; it goes into the history)

${commonOptions}`,
  },
] as const;

const help = `Usage: ficus routes <action> [options]

Reads and changes a running gateway's route table through its admin API.

Actions:
  list                          every route with its mode, weight and service
  set <route-id> --reason TEXT [--mode legacy|shadow|canary|new] [--weight 0-100]
                                change a route (the reason goes into the history)
  history                       every version: who, when, why
  restore <version> --reason TEXT
                                make an earlier version current again (as a new version)

Run 'ficus routes <action> --help' for an action's own help.

${commonOptions}`;

function fail(message: string): never {
  throw new ConfigError(`${message}. Run 'ficus routes --help' for usage.`);
}

/** Parses `ficus routes` arguments (validation only; nothing is sent). */
export function parseRoutesArgs(argv: readonly string[], env: NodeJS.ProcessEnv) {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        gateway: { type: 'string' },
        actor: { type: 'string' },
        reason: { type: 'string' },
        mode: { type: 'string' },
        weight: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    fail((error as Error).message.replace(/\. To specify a positional argument.*$/s, ''));
  }
  const { values, positionals } = parsed;
  const [action, target, ...extra] = positionals;
  if (extra.length > 0) fail(`unexpected argument ${JSON.stringify(extra[0])}`);
  const token = env.FICUS_ADMIN_TOKEN;
  if (!token) fail('FICUS_ADMIN_TOKEN is not set; it must hold the gateway admin token');
  const common = {
    gateway: values.gateway ?? env.FICUS_GATEWAY_URL ?? 'http://127.0.0.1:8080',
    token,
    actor: values.actor ?? env.FICUS_ACTOR ?? env.USER ?? 'cli',
    json: values.json ?? false,
  };
  switch (action) {
    case 'list':
    case 'history':
      if (target) fail(`${action} takes no argument`);
      return { ...common, action } as const;
    case 'set': {
      if (!target) fail('set needs a route id');
      if (!values.reason) fail('set needs --reason (it goes into the history)');
      if (values.mode === undefined && values.weight === undefined)
        fail('set needs --mode, --weight or both');
      if (values.mode !== undefined && !ROUTE_MODES.includes(values.mode as RouteMode)) {
        fail(`--mode must be one of ${ROUTE_MODES.join(', ')}, got ${JSON.stringify(values.mode)}`);
      }
      const weight = values.weight === undefined ? undefined : Number(values.weight);
      if (weight !== undefined && !(Number.isFinite(weight) && weight >= 0 && weight <= 100)) {
        fail(`--weight must be a number from 0 to 100, got ${JSON.stringify(values.weight)}`);
      }
      return {
        ...common,
        action,
        route: target,
        reason: values.reason,
        ...(values.mode === undefined ? {} : { mode: values.mode as RouteMode }),
        ...(weight === undefined ? {} : { weight }),
      } as const;
    }
    case 'restore': {
      const version = Number(target);
      if (!target || !Number.isInteger(version) || version < 1)
        fail('restore needs a version number');
      if (!values.reason) fail('restore needs --reason (it goes into the history)');
      return { ...common, action, version, reason: values.reason } as const;
    }
    case undefined:
      return fail('name an action: list, set, history or restore');
    default:
      return fail(
        `unknown action ${JSON.stringify(action)}; actions are list, set, history, restore`,
      );
  }
}

export const routesCommand: Command = {
  name: 'routes',
  summary: "list and change a running gateway's routes (admin API client)",
  help,
  subcommands,
  env: ['FICUS_GATEWAY_URL', 'FICUS_ADMIN_TOKEN', 'FICUS_ACTOR'],
  parse: (argv, env) => Promise.resolve(parseRoutesArgs(argv, env)),
  async run(argv, env) {
    const args = parseRoutesArgs(argv, env);
    const client = createAdminClient({ url: args.gateway, token: args.token, actor: args.actor });
    const print = (value: unknown, table: () => string) =>
      console.log(args.json ? JSON.stringify(value, null, 2) : table());
    switch (args.action) {
      case 'list': {
        const current = await client.routes();
        print(current, () =>
          [
            `route table version ${current.version} (${current.actor}, ${current.at}: ${current.reason})`,
            `legacy: ${current.table.legacy}`,
            ...current.table.routes.map(
              (r) =>
                `  ${r.id.padEnd(24)} ${r.mode.padEnd(7)} ${r.mode === 'canary' ? `${r.weight}%`.padEnd(5) : '     '} ${(r.methods ?? ['*']).join(',').padEnd(10)} ${r.path.padEnd(28)} ${r.service ?? ''}`,
            ),
          ].join('\n'),
        );
        break;
      }
      case 'set': {
        const version = await client.setMode(args.route, {
          ...('mode' in args ? { mode: args.mode } : {}),
          ...('weight' in args ? { weight: args.weight } : {}),
          reason: args.reason,
        });
        print(version, () => `route ${args.route} changed: now version ${version.version}`);
        break;
      }
      case 'history': {
        const versions = await client.history();
        print(versions, () =>
          versions
            .map(
              (v) =>
                `${String(v.version).padStart(4)}  ${v.at}  ${v.kind.padEnd(8)} ${v.actor.padEnd(14)} ${v.reason}`,
            )
            .join('\n'),
        );
        break;
      }
      case 'restore': {
        const version = await client.restore(args.version, args.reason);
        print(version, () => `version ${args.version} restored as version ${version.version}`);
        break;
      }
    }
    process.exit(0);
  },
};
