import { pino, type Logger } from 'pino';

export type { Logger };

/** A logger that drops everything: the default for library code that was given none. */
export function createSilentLogger(): Logger {
  return pino({ level: 'silent' });
}

/**
 * The logger the CLI hands to components: JSON lines at `level` (default `info`) on stdout, or on
 * stderr when stdout carries data (the CDC stdout sink). Pipe through `pino-pretty` for a human
 * view.
 */
export function createLogger(options: {
  name: string;
  level?: string;
  destination?: 'stdout' | 'stderr';
}): Logger {
  return pino(
    { name: options.name, level: options.level ?? 'info' },
    pino.destination({ fd: options.destination === 'stderr' ? 2 : 1, sync: true }),
  );
}
