/**
 * Per-request identity that follows a request across the monolith and the services: `x-request-id`
 * (kept when the client sent one, else a new UUID) and a W3C `traceparent`
 * (https://www.w3.org/TR/trace-context/), kept when valid, else started here.
 */
import { randomFillSync, randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;
const ALL_ZEROS = /^0+$/;

/**
 * Random bytes drawn from the CSPRNG at a time for new trace and span ids (enough for 170
 * traceparents). One call into it per id cost more than the rest of the gateway's own work on a
 * request; randomUUID batches the same way.
 */
const RANDOM_BATCH_BYTES = 4096;

/** Ensures a request carries `x-request-id` and `traceparent`; returns the request id. */
export type EnsureRequestIdentity = (request: IncomingMessage) => string;

/** Creates the stamper for one gateway, with its own batch of random digits. */
export function createRequestIdentity(): EnsureRequestIdentity {
  const batch = Buffer.alloc(RANDOM_BATCH_BYTES);
  let digits = '';
  let offset = 0;

  /** `count` fresh random hex digits, never all zeros (the spec makes all-zero ids invalid). */
  function randomHex(count: number): string {
    for (;;) {
      if (offset + count > digits.length) {
        digits = randomFillSync(batch).toString('hex');
        offset = 0;
      }
      const hex = digits.slice(offset, offset + count);
      offset += count;
      if (!ALL_ZEROS.test(hex)) return hex;
    }
  }

  return (request) => {
    let id = request.headers['x-request-id'];
    if (typeof id !== 'string' || id.length === 0 || id.length > 200) {
      id = randomUUID();
      request.headers['x-request-id'] = id;
    }
    const traceparent = request.headers.traceparent;
    if (
      typeof traceparent !== 'string' ||
      !TRACEPARENT.test(traceparent) ||
      traceparent.startsWith('ff')
    ) {
      request.headers.traceparent = `00-${randomHex(32)}-${randomHex(16)}-01`;
    }
    return id;
  };
}
