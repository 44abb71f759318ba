import type { Writable } from 'node:stream';
import type { ChangeRecord } from '../events/envelope.js';
import { stringifyJson } from '../events/json.js';
import type { Sink } from './sink.js';

/**
 * Writes each record as one JSON line `{"topic","key","value"}` (value null for a tombstone):
 * for debugging and for piping into other tools. A batch counts as delivered once the stream has
 * handed it to the operating system.
 */
export function createStdoutSink(options: { output?: Writable } = {}): Sink {
  const output = options.output ?? process.stdout;
  return {
    kind: 'stdout',
    start: () => Promise.resolve(),
    write(records: readonly ChangeRecord[]) {
      if (records.length === 0) return Promise.resolve();
      let text = '';
      for (const record of records) {
        text += `${stringifyJson({ topic: record.topic, key: record.key, value: record.value })}\n`;
      }
      return new Promise<void>((resolve, reject) => {
        output.write(text, (error) => (error ? reject(error) : resolve()));
      });
    },
    stop: () => Promise.resolve(),
  };
}
