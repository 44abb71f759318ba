import type { EmbeddedSink } from '../../../cdc/index.js';
import { createSilentLogger, type Logger } from '../../../common/index.js';
import { deferred, type BatchHandler, type RecordSource, type SourceStatus } from './source.js';

/** Options of {@link createEmbeddedSource}. */
export interface EmbeddedSourceOptions {
  /** The in-process sink of a CDC connector running in this process. */
  readonly sink: EmbeddedSink;
  /** Attempts per batch before the failure is handed to the connector (default 5). */
  readonly attempts?: number;
  readonly logger?: Logger;
}

/**
 * Records from a connector in this process (the single-machine demo). The connector confirms a
 * position only after every subscribed service has applied the batch, so a service that fails
 * holds CDC back rather than losing changes; a batch is retried with backoff before the failure
 * reaches the connector (which then stops without confirming, and redelivers on restart).
 *
 * The sink keeps nothing: a service subscribed after the connector has streamed for a while gets
 * only what comes next. Backfill such a service with an incremental snapshot (cdc/README.md).
 */
export function createEmbeddedSource(options: EmbeddedSourceOptions): RecordSource {
  const logger = options.logger ?? createSilentLogger();
  const attempts = options.attempts ?? 5;
  const done = deferred();
  let state: SourceStatus['state'] = 'starting';
  let unsubscribe: (() => void) | undefined;
  let lastError: string | undefined;

  return {
    kind: 'embedded',
    done: done.promise,
    start(handler: BatchHandler) {
      unsubscribe = options.sink.subscribe(async (records) => {
        for (let attempt = 1; ; attempt++) {
          try {
            await handler(records);
            return;
          } catch (error) {
            lastError = (error as Error).message;
            if (attempt >= attempts || state === 'stopped') {
              state = 'failed';
              done.reject(error as Error);
              throw error;
            }
            const waitMs = Math.min(2_000, 100 * 2 ** attempt);
            logger.warn({ err: error, attempt, waitMs }, 'applying a batch failed; retrying');
            await new Promise((resolve) => setTimeout(resolve, waitMs));
          }
        }
      });
      state = 'running';
      return Promise.resolve();
    },
    stop() {
      unsubscribe?.();
      if (state !== 'failed') state = 'stopped';
      done.resolve();
      return Promise.resolve();
    },
    status: () => ({
      kind: 'embedded',
      state,
      eventsBehind: null,
      details: {},
      ...(lastError === undefined ? {} : { error: lastError }),
    }),
  };
}
