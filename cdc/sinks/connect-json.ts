import { toConnectJson } from '../events/connect-schema.js';
import type { Sink } from './sink.js';

/**
 * Wraps a sink so that every record reaches it as Kafka's JsonConverter writes it with
 * `schemas.enable=true`: key and value each `{"schema","payload"}` (null stays null). The
 * connector puts it in front of whichever sink it was given, so Kafka, stdout and in-process
 * handlers all receive the same records.
 */
export function withConnectSchemas(sink: Sink): Sink {
  return {
    kind: sink.kind,
    start: () => sink.start(),
    write: (records) => sink.write(records.map(toConnectJson)),
    stop: () => sink.stop(),
  };
}
