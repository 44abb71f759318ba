import type { ChangeRecord } from '../../../cdc/index.js';

/** Receives batches in order; a batch counts as consumed once the promise resolves. */
export type BatchHandler = (records: readonly ChangeRecord[]) => Promise<void>;

/** What a source is told when it starts. */
export interface StartContext {
  /** The service has applied nothing yet (a new or emptied database): backfill it. */
  readonly empty?: boolean;
}

/** Where a service's change records come from. */
export type SourceKind = 'embedded' | 'kafka' | 'connector';

/** What a source reports about itself (part of the service's `/_ficus/status`). */
export interface SourceStatus {
  readonly kind: SourceKind;
  readonly state: 'starting' | 'running' | 'stopped' | 'failed';
  /** Records published but not consumed yet (Kafka: sum of partition lags); null when unknown. */
  readonly eventsBehind: number | null;
  /** Kind-specific details: topics and group, connector slot, … */
  readonly details: Readonly<Record<string, unknown>>;
  readonly error?: string;
}

/**
 * A stream of change records for one service. `start` resolves once records flow; the handler is
 * called with one batch at a time, in order, and a batch is acknowledged upstream (Kafka offsets
 * committed, CDC position confirmed) only after the handler resolved. `done` rejects when the
 * source fails for good.
 */
export interface RecordSource {
  readonly kind: SourceKind;
  start(handler: BatchHandler, context?: StartContext): Promise<void>;
  stop(): Promise<void>;
  status(): SourceStatus;
  readonly done: Promise<void>;
}

/** A promise with its resolve/reject, for `done`. */
export function deferred(): {
  promise: Promise<void>;
  resolve: () => void;
  reject: (error: Error) => void;
} {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A source that fails while nobody awaits `done` must not crash the process.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}
