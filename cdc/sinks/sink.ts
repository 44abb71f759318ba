import type { ChangeRecord } from '../events/envelope.js';

/**
 * Where change records go. `write` delivers records in the order given and resolves only once the
 * destination has durably accepted every one of them: the connector confirms a WAL position to
 * Postgres only after that. A rejection means "not delivered"; the connector then stops without
 * confirming, and a restart delivers the records again.
 */
export interface Sink {
  readonly kind: SinkKind;
  start(): Promise<void>;
  write(records: readonly ChangeRecord[]): Promise<void>;
  stop(): Promise<void>;
}

/** The sink kinds ficus ships. */
export type SinkKind = 'kafka' | 'stdout' | 'embedded';
