import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError } from '../common/index.js';

/** One `ficus <name>` subcommand. */
export interface Command {
  readonly name: string;
  /** One line for `ficus --help`. */
  readonly summary: string;
  /** The whole `ficus <name> --help` text. */
  readonly help: string;
  /** Environment variables the command reads. */
  readonly env: readonly string[];
  /** Validates flags, environment and config file without starting anything. */
  parse(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<unknown>;
  /** Parses, then starts; resolves once the command is up (servers keep running). */
  run(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<void>;
}

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * Parses a subcommand's flags strictly: an unknown flag, a missing value or a stray positional
 * argument is a ConfigError that names it and points at `--help`.
 */
export function parseFlags<O extends Options>(
  command: string,
  argv: readonly string[],
  options: O,
): ReturnType<typeof parseArgs<{ options: O; strict: true; allowPositionals: false }>>['values'] {
  try {
    return parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    const message = (error as Error).message.replace(/\. To specify a positional argument.*$/s, '');
    throw new ConfigError(
      `ficus ${command}: ${message}. Run 'ficus ${command} --help' for the options.`,
      {
        cause: error,
      },
    );
  }
}
