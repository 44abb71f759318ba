import { pino, type Logger } from 'pino';

export type { Logger };

/** A logger that drops everything: the default for library code that was given none. */
export function createSilentLogger(): Logger {
  return pino({ level: 'silent' });
}

/**
 * The logger the CLI hands to components: JSON lines on stdout at `FICUS_LOG_LEVEL` (default
 * `info`). Pipe through `pino-pretty` for a human view.
 */
export function createLogger(options: { name: string; level?: string }): Logger {
  return pino({ name: options.name, level: options.level ?? 'info' });
}
