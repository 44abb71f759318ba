import type { ChangeRecord } from '../events/envelope.js';
import type { Sink } from './sink.js';

/** Receives batches of records in order; the batch counts as delivered when the promise resolves. */
export type RecordHandler = (records: readonly ChangeRecord[]) => Promise<void> | void;

/** An in-process sink whose handlers can be added after the connector has started. */
export interface EmbeddedSink extends Sink {
  /** Adds a handler for every later batch; returns a function that removes it. */
  subscribe(handler: RecordHandler): () => void;
}

/**
 * Hands records to in-process handlers, for the single-machine demo and for consumers that run
 * inside the connector's process. Every handler sees every batch, in order; a batch is delivered
 * once all handlers have resolved. A handler that throws stops the connector (no position is
 * confirmed past that batch, so a restart delivers it again).
 */
export function createEmbeddedSink(handlers: readonly RecordHandler[] = []): EmbeddedSink {
  const active = new Set<RecordHandler>(handlers);
  return {
    kind: 'embedded',
    start: () => Promise.resolve(),
    async write(records) {
      if (records.length === 0) return;
      await Promise.all([...active].map(async (handler) => handler(records)));
    },
    stop: () => Promise.resolve(),
    subscribe(handler) {
      active.add(handler);
      return () => active.delete(handler);
    },
  };
}
