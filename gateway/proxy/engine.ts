/**
 * The proxy engine: every byte ficus forwards goes through here, on http-proxy-middleware.
 *
 * - keep-alive connection pools to the upstreams (without them every request opens a connection);
 * - request and response bodies stream both ways, never buffered (no body parser before this);
 * - hop-by-hop headers (RFC 9110 §7.6.1) are not forwarded; `X-Forwarded-For/Proto/Host` are added;
 * - an upstream that does not answer within the route's timeout gets a 504, one that cannot be
 *   reached a 502, both as JSON errors;
 * - a client that goes away cancels the upstream request.
 *
 * `forward()` reports how the exchange ended, so callers can fall back, compare or count.
 */
import http from 'node:http';
import https from 'node:https';
import {
  createProxyMiddleware,
  proxyEventsPlugin,
  type RequestHandler,
} from 'http-proxy-middleware';

import { FicusError, toErrorResponse } from '../../common/index.js';

/** How a forwarded exchange ended. */
export type ForwardOutcome =
  | { readonly kind: 'response'; readonly status: number }
  | { readonly kind: 'error'; readonly error: UpstreamError }
  | { readonly kind: 'client-gone' };

/** The upstream failed: unreachable (502) or too slow (504). */
export class UpstreamError extends FicusError {
  constructor(
    code: 'FICUS_UPSTREAM_UNREACHABLE' | 'FICUS_UPSTREAM_TIMEOUT',
    message: string,
    readonly target: string,
    cause?: unknown,
  ) {
    super(code, message, { statusCode: code === 'FICUS_UPSTREAM_TIMEOUT' ? 504 : 502, cause });
  }
}

/** Options for one forwarded request. */
export interface ForwardOptions {
  readonly target: string;
  readonly timeoutMs: number;
  /** Sees the upstream response before it streams to the client (e.g. to capture its body). */
  readonly onResponse?: (response: http.IncomingMessage) => void;
  /**
   * When set, a response with a status this returns true for is NOT sent to the client: the
   * exchange ends with that status and the caller answers instead (fallback on 5xx).
   */
  readonly intercept?: (status: number) => boolean;
  /** Don't answer errors: the caller will (fallback). */
  readonly quietErrors?: boolean;
}

/** Hop-by-hop headers, never forwarded (plus any named in Connection). */
const HOP_BY_HOP = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'upgrade',
];

interface Exchange {
  readonly options: ForwardOptions;
  settle(outcome: ForwardOutcome): void;
  timedOut: boolean;
  settled: boolean;
}

const EXCHANGE = Symbol('ficus-exchange');
type TrackedRequest = http.IncomingMessage & { [EXCHANGE]?: Exchange };

/** A reusable engine with its own connection pools. */
export interface ProxyEngine {
  forward(
    request: http.IncomingMessage,
    response: http.ServerResponse,
    options: ForwardOptions,
  ): Promise<ForwardOutcome>;
  /** Closes pooled connections. */
  close(): void;
}

export function createProxyEngine(options: { maxSockets?: number } = {}): ProxyEngine {
  const agentOptions = {
    keepAlive: true,
    // Nagle's algorithm on pooled upstream sockets adds delayed-ACK stalls to every small request.
    noDelay: true,
    maxSockets: options.maxSockets ?? 256,
    maxFreeSockets: 64,
    scheduling: 'lifo' as const,
  };
  const httpAgent = new http.Agent(agentOptions);
  const httpsAgent = new https.Agent(agentOptions);

  const build = (selfHandleResponse: boolean, agent: http.Agent): RequestHandler =>
    createProxyMiddleware<http.IncomingMessage, http.ServerResponse>({
      router: (req) => exchangeOf(req).options.target,
      target: 'http://127.0.0.1',
      changeOrigin: true,
      xfwd: true,
      selfHandleResponse,
      // Only the plugin that wires `on`: no default logging, no default (text) error answers.
      ejectPlugins: true,
      plugins: [proxyEventsPlugin],

      agent,
      on: {
        proxyReq(proxyRequest, req, res) {
          const exchange = exchangeOf(req);
          stripHopByHop(proxyRequest);
          proxyRequest.setTimeout(exchange.options.timeoutMs, () => {
            exchange.timedOut = true;
            proxyRequest.destroy(new Error(`no answer within ${exchange.options.timeoutMs} ms`));
          });
          // A client that goes away cancels the upstream request.
          res.once('close', () => {
            if (!res.writableFinished && !exchange.settled) {
              proxyRequest.destroy();
              exchange.settle({ kind: 'client-gone' });
            }
          });
        },
        proxyRes(proxyResponse, req, res) {
          const exchange = exchangeOf(req);
          const status = proxyResponse.statusCode ?? 502;
          exchange.options.onResponse?.(proxyResponse);
          if (selfHandleResponse) {
            if (exchange.options.intercept?.(status)) {
              proxyResponse.resume();
              exchange.settle({ kind: 'response', status });
              return;
            }
            const headers = { ...proxyResponse.headers };
            for (const name of HOP_BY_HOP) delete headers[name];
            res.writeHead(status, proxyResponse.statusMessage, headers);
            proxyResponse.pipe(res);
          }
          res.once('finish', () => exchange.settle({ kind: 'response', status }));
          proxyResponse.once('error', () => exchange.settle({ kind: 'client-gone' }));
        },
        error(error, req, res) {
          const exchange = exchangeOf(req);
          if (exchange.settled) return;
          const target = exchange.options.target;
          const upstream = exchange.timedOut
            ? new UpstreamError(
                'FICUS_UPSTREAM_TIMEOUT',
                `upstream ${target} did not answer within ${exchange.options.timeoutMs} ms`,
                target,
                error,
              )
            : new UpstreamError(
                'FICUS_UPSTREAM_UNREACHABLE',
                `upstream ${target} unreachable: ${(error as NodeJS.ErrnoException).code ?? error.message}`,
                target,
                error,
              );
          const response = res as http.ServerResponse;
          if (!exchange.options.quietErrors) {
            if (response.headersSent) response.destroy();
            else sendError(response, upstream);
          }
          exchange.settle({ kind: 'error', error: upstream });
        },
      },
    });

  // One middleware per (response handling, scheme): http-proxy takes its agent from its options.
  const handlers = {
    streaming: { http: build(false, httpAgent), https: build(false, httpsAgent) },
    intercepting: { http: build(true, httpAgent), https: build(true, httpsAgent) },
  };

  return {
    forward(request, response, forwardOptions) {
      return new Promise<ForwardOutcome>((resolve) => {
        const exchange: Exchange = {
          options: forwardOptions,
          timedOut: false,
          settled: false,
          settle(outcome) {
            if (exchange.settled) return;
            exchange.settled = true;
            resolve(outcome);
          },
        };
        (request as TrackedRequest)[EXCHANGE] = exchange;
        const set = forwardOptions.intercept ? handlers.intercepting : handlers.streaming;
        const handler = forwardOptions.target.startsWith('https:') ? set.https : set.http;
        void handler(request, response, (error?: unknown) => {
          if (error) {
            exchange.settle({
              kind: 'error',
              error: new UpstreamError(
                'FICUS_UPSTREAM_UNREACHABLE',
                error instanceof Error ? error.message : 'proxy failed',
                forwardOptions.target,
                error,
              ),
            });
          }
        });
      });
    },
    close() {
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}

function exchangeOf(request: http.IncomingMessage): Exchange {
  const exchange = (request as TrackedRequest)[EXCHANGE];
  if (!exchange) throw new Error('request was not started through ProxyEngine.forward');
  return exchange;
}

function stripHopByHop(proxyRequest: http.ClientRequest): void {
  const connection = proxyRequest.getHeader('connection');
  const named =
    typeof connection === 'string' ? connection.split(',').map((h) => h.trim().toLowerCase()) : [];
  for (const name of [...HOP_BY_HOP, ...named]) {
    if (name && name !== 'connection') proxyRequest.removeHeader(name);
  }
  // The pooled connection is kept alive whatever the client asked for its own connection.
  proxyRequest.setHeader('connection', 'keep-alive');
}

/** Answers with a ficus JSON error, unless something was already sent. */
export function sendError(response: http.ServerResponse, error: unknown): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  const { status, body } = toErrorResponse(error);
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  response.end(text);
}
