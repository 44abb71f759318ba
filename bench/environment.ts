import { z } from 'zod';
import { ConfigError } from '../common/index.js';

/** Environment variable → the setting it fills, with its schema (and default). */
export type EnvironmentSettings = Readonly<Record<string, readonly [string, z.ZodType]>>;

/**
 * Reads a benchmark's settings from the environment (an empty variable counts as unset); a bad
 * value throws a ConfigError naming the variable, its value and what is allowed.
 */
export function readEnvironment<T>(
  settings: EnvironmentSettings,
  env: NodeJS.ProcessEnv = process.env,
): T {
  const config: Record<string, unknown> = {};
  for (const [variable, [field, schema]] of Object.entries(settings)) {
    const raw = env[variable] === '' ? undefined : env[variable];
    const parsed = schema.safeParse(raw);
    if (!parsed.success) {
      const why = parsed.error.issues.map((issue) => issue.message).join('; ');
      throw new ConfigError(`${variable}=${JSON.stringify(raw)}: ${why}`);
    }
    config[field] = parsed.data;
  }
  return Object.freeze(config) as T;
}

/** A whole number from `min` to `max`, read from the environment's text. */
export const integer = (min: number, max: number) =>
  z.coerce
    .number({ error: 'must be a number' })
    .int('must be a whole number')
    .min(min, `must be from ${min} to ${max}`)
    .max(max, `must be from ${min} to ${max}`);
