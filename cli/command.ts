import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError } from '../common/index.js';

/** A `ficus <command> <name>` with a help text of its own. */
export interface Subcommand {
  readonly name: string;
  /** One line for the command's help. */
  readonly summary: string;
  /** The whole `ficus <command> <name> --help` text. */
  readonly help: string;
}

/** One `ficus <name>` subcommand. */
export interface Command {
  readonly name: string;
  /** One line for `ficus --help`. */
  readonly summary: string;
  /** The whole `ficus <name> --help` text. */
  readonly help: string;
  /**
   * Subcommands with help of their own: `ficus <name> <subcommand> --help` prints the
   * subcommand's help instead of `help` (main.ts picks the first argument that names one).
   */
  readonly subcommands?: readonly Subcommand[];
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

/** The subcommand `argv` names: the first argument that is not a flag and names one. */
export function subcommandOf(command: Command, argv: readonly string[]): Subcommand | undefined {
  for (const arg of argv) {
    if (arg.startsWith('-')) continue;
    const found = command.subcommands?.find((s) => s.name === arg);
    if (found) return found;
  }
  return undefined;
}
