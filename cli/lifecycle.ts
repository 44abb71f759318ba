import type { Logger } from '../common/index.js';

/** Something the CLI started and must stop on Ctrl-C, in reverse order of starting. */
export type Closer = () => Promise<void>;

/**
 * Stops everything on SIGINT or SIGTERM, last started first, then exits. A second signal while
 * stopping exits at once with status 1.
 */
export function stopOnSignal(closers: Closer[], logger: Logger, onStopped?: () => void): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting without waiting');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'stopping');
    void closeAll(closers, logger).then((failed) => {
      onStopped?.();
      process.exit(failed ? 1 : 0);
    });
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

/** Runs every closer, last first, even when one fails. Resolves to true when any failed. */
export async function closeAll(closers: Closer[], logger: Logger): Promise<boolean> {
  let failed = false;
  for (const close of [...closers].reverse()) {
    try {
      await close();
    } catch (error) {
      failed = true;
      logger.error({ err: error }, 'error while stopping');
    }
  }
  return failed;
}
