import type { Writable } from 'node:stream';
import type { ChangeRecord } from '../events/envelope.js';
import { stringifyJson } from '../events/json.js';
import { FicusError } from '../../common/index.js';
import type { Sink } from './sink.js';

/** The reader of the output went away (`ficus cdc | head`): nothing more can be delivered. */
export class StdoutClosedError extends FicusError {
  constructor(cause: unknown) {
    super(
      'FICUS_CDC_STDOUT_CLOSED',
      `the output was closed by its reader (${(cause as Error).message}); events after the last one written are sent again on the next start`,
      { cause },
    );
  }
}

/**
 * Writes each record as one JSON line `{"topic","key","value"}` (value null for a tombstone):
 * for debugging and for piping into other tools. A batch counts as delivered once the stream has
 * handed it to the operating system.
 */
export function createStdoutSink(options: { output?: Writable } = {}): Sink {
  const output = options.output ?? process.stdout;
  let closed: StdoutClosedError | undefined;
  // EPIPE and friends arrive as an 'error' event too; without a listener they end the process.
  const onError = (error: Error) => {
    closed ??= new StdoutClosedError(error);
  };
  return {
    kind: 'stdout',
    start: () => {
      output.on('error', onError);
      return Promise.resolve();
    },
    write(records: readonly ChangeRecord[]) {
      if (closed) return Promise.reject(closed);
      if (records.length === 0) return Promise.resolve();
      let text = '';
      for (const record of records) {
        text += `${stringifyJson({ topic: record.topic, key: record.key, value: record.value })}\n`;
      }
      return new Promise<void>((resolve, reject) => {
        output.write(text, (error) => {
          if (!error) return resolve();
          onError(error);
          reject(closed ?? error);
        });
      });
    },
    // The listener stays: an EPIPE can still arrive while the process shuts down.
    stop: () => Promise.resolve(),
  };
}
