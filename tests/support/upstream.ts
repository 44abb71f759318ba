import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** What a fake upstream saw of one request. */
export interface SeenRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** The request was aborted before the upstream answered. */
  aborted: boolean;
}

/** How the fake upstream answers; change it at any time. */
export interface UpstreamBehaviour {
  status: number;
  delayMs: number;
  /** Body to answer with, JSON-encoded: a value, or a function of the request giving one. */
  body: unknown;

  headers: Record<string, string>;
}

/** A real HTTP server on 127.0.0.1:<free port> standing in for the monolith or a service. */
export interface FakeUpstream {
  readonly url: string;
  readonly name: string;
  readonly seen: SeenRequest[];
  behaviour: UpstreamBehaviour;
  close(): Promise<void>;
}

/**
 * Starts a fake upstream answering JSON `{ "from": name, "path": url }` by default. Requests are
 * recorded in `seen`, including whether the caller hung up before the answer.
 */
export async function startUpstream(
  name: string,
  behaviour: Partial<UpstreamBehaviour> = {},
): Promise<FakeUpstream> {
  const seen: SeenRequest[] = [];
  const upstream: FakeUpstream = {
    url: '',
    name,
    seen,
    behaviour: {
      status: 200,
      delayMs: 0,
      body: (request: SeenRequest) => ({ from: name, path: request.url }),
      headers: {},
      ...behaviour,
    },
    close: () => Promise.resolve(),
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request: SeenRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        aborted: false,
      };
      seen.push(request);
      const { status, delayMs, body, headers } = upstream.behaviour;
      const answer = () => {
        if (res.destroyed) return;
        const payload = JSON.stringify(
          typeof body === 'function' ? (body as (r: SeenRequest) => unknown)(request) : body,
        );
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(payload);
      };
      if (delayMs > 0) {
        const timer = setTimeout(answer, delayMs);
        res.once('close', () => {
          if (!res.writableFinished) {
            request.aborted = true;
            clearTimeout(timer);
          }
        });
      } else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  Object.assign(upstream, {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
  return upstream;
}
