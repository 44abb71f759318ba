import type { Logger, Companion } from '../../index.js';
import type { ReviewsWriteBack } from './write-back.js';

/** Options of {@link superviseWriteBack}. */
export interface WriteBackSupervisorOptions {
  /** Starts one write-back run. */
  readonly start: () => Promise<ReviewsWriteBack>;
  readonly logger: Logger;
  /** First and longest wait before a restart; default 1 s and 30 s. */
  readonly backoffMs?: { readonly initial: number; readonly max: number };
}

/**
 * Keeps the reviews write-back running: when a run fails (the monolith restarted, a connection
 * dropped), a new one starts after a growing wait. A restart is safe: the replication origin's
 * progress tells the new run which transactions were already written. While no run is up the
 * status says `failed`, so the service reports itself degraded.
 */
export async function superviseWriteBack(options: WriteBackSupervisorOptions): Promise<Companion> {
  const backoff = options.backoffMs ?? { initial: 1_000, max: 30_000 };
  let current: ReviewsWriteBack | undefined = await options.start();
  let closed = false;
  let restarts = 0;
  let lastError: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let wait = backoff.initial;

  const watch = (run: ReviewsWriteBack) => {
    run.done.catch((error: unknown) => {
      if (closed || current !== run) return;
      current = undefined;
      lastError = (error as Error).message;
      options.logger.error(
        { err: error, retryInMs: wait },
        'reviews write-back stopped; restarting it',
      );
      timer = setTimeout(() => void restart(), wait);
      wait = Math.min(backoff.max, wait * 2);
    });
  };

  const restart = async () => {
    if (closed) return;
    try {
      const run = await options.start();
      if (closed) {
        await run.close();
        return;
      }
      current = run;
      restarts++;
      wait = backoff.initial;
      options.logger.info({ restarts }, 'reviews write-back running again');
      watch(run);
    } catch (error) {
      lastError = (error as Error).message;
      options.logger.error({ err: error, retryInMs: wait }, 'reviews write-back did not start');
      timer = setTimeout(() => void restart(), wait);
      wait = Math.min(backoff.max, wait * 2);
    }
  };

  watch(current);
  return {
    status: () => ({
      ...(current?.status() ?? { state: 'failed' }),
      restarts,
      ...(lastError === undefined ? {} : { lastError }),
    }),
    async close() {
      closed = true;
      clearTimeout(timer);
      await current?.close();
    },
  };
}
