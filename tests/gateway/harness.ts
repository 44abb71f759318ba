import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createGateway,
  createMemoryRouteStore,
  type Gateway,
  type RouteStore,
  type RouteTableInput,
} from '../../gateway/index.js';
import { startUpstream, type FakeUpstream } from '../support/upstream.js';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';

/** A gateway on a real socket in front of fake legacy and service upstreams. */
export interface GatewayHarness {
  readonly url: string;
  readonly gateway: Gateway;
  readonly store: RouteStore;
  readonly legacy: FakeUpstream;
  readonly service: FakeUpstream;
  close(): Promise<void>;
}

/** Starts upstreams named `legacy` and `service`, and a gateway whose routes `routes(...)` builds. */
export async function startGatewayHarness(
  routes: (urls: { legacy: string; service: string }) => RouteTableInput,
): Promise<GatewayHarness> {
  const [legacy, service] = await Promise.all([startUpstream('legacy'), startUpstream('service')]);
  const store = createMemoryRouteStore(routes({ legacy: legacy.url, service: service.url }));
  const gateway = createGateway({ store, adminToken: ADMIN_TOKEN });
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

/** A plain HTTP request through a real socket, without fetch's header normalisation. */
export function request(
  url: string,
  options: {
    method?: string;
    path?: string;
    headers?: http.OutgoingHttpHeaders;
    body?: string | Buffer;
  } = {},
): Promise<{
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  json: () => unknown;
}> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const outgoing = http.request(
      {
        host: target.hostname,
        port: target.port,
        method: options.method ?? 'GET',
        path: options.path ?? '/',
        headers: options.headers,
        agent: false,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body,
            json: () => JSON.parse(body) as unknown,
          });
        });
        response.on('error', reject);
      },
    );
    outgoing.on('error', reject);
    outgoing.end(options.body);
  });
}

/** The port a URL's server listens on. */
export function portOf(server: http.Server): number {
  return (server.address() as AddressInfo).port;
}
