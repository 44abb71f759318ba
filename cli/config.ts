import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../common/index.js';

/**
 * Where each configuration field may come from. Precedence, highest first: command-line flag,
 * environment variable, config file, default from the schema.
 */
export interface ConfigSources {
  /** Parsed `--flag value` pairs, keyed by field name. */
  flags?: Record<string, unknown>;
  /** The flag of each field whose flag is not the field name in kebab-case (`slotName` → `slot`). */
  flagNames?: Record<string, string>;
  /** The process environment. */
  env?: Record<string, string | undefined>;
  /** Environment variable name for each field that has one. */
  envNames?: Record<string, string>;
  /** Contents of the config file, already parsed. */
  file?: Record<string, unknown>;
  /** Where `file` came from, for error messages. */
  fileName?: string;
}

/**
 * Merges the sources and validates the result with `schema`. A bad value raises a ConfigError that
 * names the field, where it came from, the value and what is allowed; the result is frozen.
 */
export function resolveConfig<S extends z.ZodType>(
  schema: S,
  sources: ConfigSources,
): Readonly<z.output<S>> {
  const merged: Record<string, unknown> = { ...sources.file };
  const origin: Record<string, string> = {};
  for (const key of Object.keys(merged)) origin[key] = sources.fileName ?? 'config file';
  for (const [field, name] of Object.entries(sources.envNames ?? {})) {
    const value = sources.env?.[name];
    if (value !== undefined && value !== '') {
      merged[field] = value;
      origin[field] = `environment variable ${name}`;
    }
  }
  for (const [field, value] of Object.entries(sources.flags ?? {})) {
    if (value !== undefined) {
      merged[field] = value;
      origin[field] = `--${sources.flagNames?.[field] ?? kebab(field)}`;
    }
  }
  const result = schema.safeParse(merged);
  if (!result.success) {
    const issue = result.error.issues[0];
    const field = issue?.path.join('.') ?? '';
    const top = String(issue?.path[0] ?? '');
    const value = lookup(merged, issue?.path ?? []);
    if (value === undefined && issue?.path.length === 1) {
      const ways = [
        sources.envNames?.[top] ? `set ${sources.envNames[top]}` : undefined,
        top in (sources.flags ?? {})
          ? `pass --${sources.flagNames?.[top] ?? kebab(top)}`
          : undefined,

        sources.fileName ? `add ${top} to ${sources.fileName}` : undefined,
      ].filter(Boolean);
      throw new ConfigError(`${top} is required: ${ways.join(' or ')}`);
    }

    const from = origin[top] ? ` (from ${origin[top]})` : '';
    const shown = value === undefined ? 'nothing' : JSON.stringify(value);
    throw new ConfigError(
      `${field || 'config'}${from}: ${issue?.message ?? 'invalid'}; got ${shown}`,
    );
  }
  return Object.freeze(result.data);
}

/** Reads and parses a YAML (or JSON) config file, with an error that names the file. */
export async function readConfigFile(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read config file ${file}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (error) {
    throw new ConfigError(`config file ${file} is not valid YAML: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError(
      `config file ${file} must hold a mapping of settings, got ${typeof parsed}`,
    );
  }
  return parsed as Record<string, unknown>;
}

/** A TCP port: an integer from 0 to 65535, given as a number or a numeric string. */
export const portSchema = z.coerce
  .number({ error: 'must be a port number' })
  .int('must be a whole number')
  .min(0, 'must be a port from 0 to 65535')
  .max(65535, 'must be a port from 0 to 65535');

/** A comma-separated list (`a:1, b:2`) or a YAML list, as an array of non-empty strings. */
export const listSchema = z.preprocess(
  (value) =>
    typeof value === 'string'
      ? value
          .split(',')
          .map((item) => item.trim())
          .filter(Boolean)
      : value,
  z.array(z.string().min(1)),
);

/** A postgres:// or postgresql:// connection URL. */
export const postgresUrlSchema = z
  .string()
  .refine(
    (value) => /^postgres(ql)?:\/\/.+/.test(value),
    'must be a postgres:// or postgresql:// URL',
  );

/** A boolean given as true/false, 1/0, yes/no (as environment variables are). */
export const booleanSchema = z.union([
  z.boolean(),
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'], {
      error: 'must be true or false',
    })
    .transform((value) => value === 'true' || value === '1' || value === 'yes'),
]);

/** Log levels pino understands. */
export const logLevelSchema = z.enum([
  'fatal',
  'error',
  'warn',
  'info',
  'debug',
  'trace',
  'silent',
]);

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function lookup(value: unknown, path: readonly PropertyKey[]): unknown {
  let current = value;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}
