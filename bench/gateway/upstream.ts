/**
 * A minimal, fast upstream for the gateway benchmark: answers every request with the same
 * ~300-byte JSON body on a keep-alive connection. Two of them run (A as legacy, B as the new
 * service) with identical bodies, so a shadow comparison finds no difference.
 *
 * `GET /__bench/requests` (REQUEST_COUNT_PATH) answers how many other requests this upstream has served, so the
 * report can show where a canary or shadow route actually sent traffic.
 *
 * Started by ./server-process.ts with an UpstreamConfig as argv[2].
 */
import { createServer } from 'node:http';
import { listenOnLoopback, readServerConfig, reportToParent } from './server-process.js';
import { REQUEST_COUNT_PATH } from './traffic.js';

/** What the parent passes. */
export interface UpstreamConfig {
  /** 0 for any free port. */
  readonly port: number;
}

const BODY = Buffer.from(
  JSON.stringify({
    id: 'prod-000042',
    name: 'Weeping fig (Ficus benjamina), 120 cm',
    price: { amount: 4990, currency: 'EUR' },
    stock: { available: 17, warehouse: 'ber-2' },
    tags: ['indoor', 'evergreen', 'low-light'],
    rating: { average: 4.6, count: 1283 },
    updatedAt: '2025-01-15T09:30:00.000Z',
    links: { self: '/products/prod-000042' },
  }),
);

/** How long an idle keep-alive connection stays open: longer than a proxy keeps one pooled. */
const KEEP_ALIVE_TIMEOUT_MS = 65_000;

async function main(): Promise<void> {
  const config = readServerConfig<UpstreamConfig>();
  let served = 0;
  const server = createServer((request, response) => {
    if (request.url === REQUEST_COUNT_PATH) {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ requests: served }));
      return;
    }
    served++;
    // Drain any request body so the connection can be reused.
    request.resume();
    response.writeHead(200, {
      'content-type': 'application/json',
      'content-length': BODY.length,
    });
    response.end(BODY);
  });
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  const port = await listenOnLoopback(server, config.port);
  reportToParent({ kind: 'ready', port });
}

await main();
