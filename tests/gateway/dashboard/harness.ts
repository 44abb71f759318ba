/**
 * Helpers for the dashboard tests: a gateway with dashboard settings in front of fake upstreams,
 * a signed-in session cookie, and a reader for the server-sent event stream over a real socket.
 */
import http from 'node:http';
import {
  createGateway,
  createMemoryRouteStore,
  type DashboardSettings,
  type Gateway,
  type RouteStore,
  type RouteTableInput,
} from '../../../gateway/index.js';
import { waitUntil } from '../../cdc/harness.js';
import { startUpstream, type FakeUpstream } from '../../support/upstream.js';
import { ADMIN_TOKEN, request } from '../harness.js';

export { ADMIN_TOKEN, request };
export const bearer = { authorization: `Bearer ${ADMIN_TOKEN}` };

/** A gateway with its dashboard, in front of fake `legacy` and `service` upstreams. */
export interface DashboardHarness {
  readonly url: string;
  readonly gateway: Gateway;
  readonly store: RouteStore;
  readonly legacy: FakeUpstream;
  readonly service: FakeUpstream;
  close(): Promise<void>;
}

export async function startDashboardHarness(
  routes: (urls: { legacy: string; service: string }) => RouteTableInput,
  dashboard: DashboardSettings & { maxUnclaimedTemplates?: number } = {},
  gatewayOptions: { adminHost?: string } = {},
): Promise<DashboardHarness> {
  const [legacy, service] = await Promise.all([startUpstream('legacy'), startUpstream('service')]);
  const store = createMemoryRouteStore(routes({ legacy: legacy.url, service: service.url }));
  const gateway = createGateway({ store, adminToken: ADMIN_TOKEN, dashboard, ...gatewayOptions });
  const { url } = await gateway.listen(0);
  return {
    url,
    gateway,
    store,
    legacy,
    service,
    async close() {
      await gateway.close();
      await Promise.all([legacy.close(), service.close()]);
    },
  };
}

/** Signs in like the page does and returns the `Cookie` header value of the session. */
export async function signIn(url: string, actor?: string): Promise<string> {
  const answer = await request(url, {
    method: 'POST',
    path: '/_ficus/api/session',
    headers: { ...bearer, 'content-type': 'application/json' },
    body: JSON.stringify(actor ? { actor } : {}),
  });
  if (answer.status !== 200) throw new Error(`sign-in answered ${answer.status}: ${answer.body}`);
  const setCookie = answer.headers['set-cookie']?.[0] ?? '';
  return setCookie.split(';')[0]!;
}

/** One server-sent event. */
export interface StreamEvent {
  event: string;
  data: unknown;
}

/** An open event stream: every event received so far, and a way to wait for one. */
export interface EventStream {
  readonly status: number;
  readonly events: StreamEvent[];
  /** Waits for an event after the first `from` events that satisfies `match`. */
  next(
    event: string,
    match?: (data: unknown) => boolean,
    options?: { from?: number; timeoutMs?: number },
  ): Promise<StreamEvent>;
  /** Resolves when the server ends the stream. */
  readonly ended: Promise<void>;
  close(): void;
}

/** Opens GET /_ficus/api/events with `headers` and parses frames as they arrive. */
export function openEventStream(
  url: string,
  headers: http.OutgoingHttpHeaders,
): Promise<EventStream> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const outgoing = http.request(
      {
        host: target.hostname,
        port: target.port,
        path: '/_ficus/api/events',
        headers: { accept: 'text/event-stream', ...headers },
        agent: false,
      },
      (response) => {
        const events: StreamEvent[] = [];
        let buffer = '';
        let endedResolve: () => void = () => {};
        const ended = new Promise<void>((done) => (endedResolve = done));
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          buffer += chunk;
          let index: number;
          while ((index = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, index);
            buffer = buffer.slice(index + 2);
            let event = 'message';
            const data: string[] = [];
            for (const line of block.split('\n')) {
              if (line.startsWith('event: ')) event = line.slice(7);
              else if (line.startsWith('data: ')) data.push(line.slice(6));
            }
            if (data.length > 0) events.push({ event, data: JSON.parse(data.join('\n')) });
          }
        });
        response.on('end', () => endedResolve());
        response.on('close', () => endedResolve());
        response.on('error', () => endedResolve());
        resolve({
          status: response.statusCode ?? 0,
          events,
          ended,
          async next(event, match = () => true, options = {}) {
            const from = options.from ?? 0;
            const find = () => events.slice(from).find((e) => e.event === event && match(e.data));
            await waitUntil(
              () => find() !== undefined,
              options.timeoutMs ?? 10_000,
              () => `(waiting for "${event}"; got ${events.map((e) => e.event).join(', ')})`,
            );
            return find()!;
          },
          close: () => outgoing.destroy(),
        });
      },
    );
    outgoing.on('error', reject);
    outgoing.end();
  });
}
