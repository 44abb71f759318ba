import { ConfigError } from '../common/index.js';
import {
  loadServiceModule,
  SERVICE_DEFINITIONS,
  type LoadServiceOptions,
  serviceDefinition,
  type ServiceDefinition,
} from '../extracted-services/index.js';

/** The built-in service names, for help texts and errors. */
export const BUILT_IN_SERVICES = SERVICE_DEFINITIONS.map((definition) => definition.name);

/**
 * The service a `ficus service` or `ficus reconcile` invocation means: a user's module
 * (`--module FILE`, resolved against the working directory: a module, or a YAML file of plain
 * table copies) or one of ficus's own services by name. With both, the name must be the module's.
 */
export async function resolveServiceDefinition(
  command: string,
  name: string | undefined,
  module: string | undefined,
  options: LoadServiceOptions = {},
): Promise<ServiceDefinition> {
  if (module !== undefined) {
    const definition = await loadServiceModule(module, options);
    if (name !== undefined && name !== definition.name)
      throw new ConfigError(
        `module: ${module} defines the service ${JSON.stringify(definition.name)}, not ${JSON.stringify(name)}; leave the name out or make the two agree`,
      );
    return definition;
  }
  if (name === undefined)
    throw new ConfigError(
      `name one of ficus's services (${BUILT_IN_SERVICES.join(', ')}), e.g. 'ficus ${command} ${BUILT_IN_SERVICES[0]}', or pass --module ./your-service.ts for a service of your own`,
    );
  return serviceDefinition(name);
}

/** The leading service name of a command line, if it has one (`ficus service NAME --flags`). */
export function leadingName(argv: readonly string[]): {
  name: string | undefined;
  rest: readonly string[];
} {
  const [first, ...rest] = argv;
  return first === undefined || first.startsWith('-')
    ? { name: undefined, rest: argv }
    : { name: first, rest };
}

/**
 * A setting read before the config is validated (the service must be known first): the flag,
 * else the environment variable, else the config file's key, when it is a non-empty string.
 */
export function earlySetting(
  flag: string | undefined,
  env: string | undefined,
  file: Record<string, unknown> | undefined,
  key: string,
): string | undefined {
  const value = flag ?? (env || undefined) ?? file?.[key];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** What {@link serviceOfArgs} reads: the parsed flags, the environment and the config file. */
export interface ServiceArgs {
  readonly command: string;
  readonly name: string | undefined;
  readonly flags: { readonly module?: string; readonly 'source-database-url'?: string };
  readonly env: NodeJS.ProcessEnv;
  readonly file: Record<string, unknown> | undefined;
  /** A YAML service's column types are not needed (reconciliation, teardown). */
  readonly typesOptional: boolean;
}

/**
 * The service a command line means, read before the rest of its config: `--module`
 * (FICUS_SERVICE_MODULE, `module:`) or a built-in name; a YAML service reads its column types
 * from `--source-database-url` (FICUS_SOURCE_DATABASE_URL, `sourceDatabaseUrl:`).
 */
export function serviceOfArgs(args: ServiceArgs): Promise<ServiceDefinition> {
  const { flags, env, file } = args;
  return resolveServiceDefinition(
    args.command,
    args.name,
    earlySetting(flags.module, env.FICUS_SERVICE_MODULE, file, 'module'),
    {
      sourceDatabaseUrl: earlySetting(
        flags['source-database-url'],
        env.FICUS_SOURCE_DATABASE_URL,
        file,
        'sourceDatabaseUrl',
      ),
      typesOptional: args.typesOptional,
    },
  );
}
