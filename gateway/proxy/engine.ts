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
import { parse as parseUrl, type UrlWithStringQuery } from 'node:url';
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

/**
 * One forwarded exchange. It is found from the objects it involves through the EXCHANGE symbol,
 * so that the listeners below are shared functions rather than closures made per request.
 */
class Exchange {
  timedOut = false;
  settled = false;
  /** The upstream's status, once it has answered. */
  status = 0;
  proxyRequest: http.ClientRequest | undefined;

  constructor(
    readonly options: ForwardOptions,
    private readonly resolve: (outcome: ForwardOutcome) => void,
  ) {}

  settle(outcome: ForwardOutcome): void {
    if (this.settled) return;
    this.settled = true;
    this.resolve(outcome);
  }
}

const EXCHANGE = Symbol('ficus-exchange');
type Tagged<T> = T & { [EXCHANGE]?: Exchange };

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

  // http-proxy parses a target given as a string on every request; parsed once here, the same
  // way (url.parse is what http-proxy calls), it is handed over as the object it would build.
  const parsedTargets = new Map<string, UrlWithStringQuery>();
  const parsedTarget = (target: string): UrlWithStringQuery => {
    let parsed = parsedTargets.get(target);
    if (!parsed) {
      // Targets change only with the route table; a table that churns through many just starts over.
      if (parsedTargets.size >= 256) parsedTargets.clear();
      parsed = parseUrl(target);
      parsedTargets.set(target, parsed);
    }
    return parsed;
  };

  const build = (selfHandleResponse: boolean, agent: http.Agent): RequestHandler =>
    createProxyMiddleware<http.IncomingMessage, http.ServerResponse>({
      // One middleware per target instead would save HPM's router hops (~1 µs a request) but
      // subscribes one more listener to the server's 'close' per target, for good.
      router: (req) => parsedTarget(exchangeOf(req).options.target),
      target: 'http://127.0.0.1',
      changeOrigin: true,
      xfwd: true,
      selfHandleResponse,
      // Only the plugin that wires `on`: no default logging, no default (text) error answers.
      ejectPlugins: true,
      plugins: [proxyEventsPlugin],

      agent,
      on: {
        proxyReq(proxyRequest, req) {
          const exchange = exchangeOf(req);
          exchange.proxyRequest = proxyRequest;
          (proxyRequest as Tagged<http.ClientRequest>)[EXCHANGE] = exchange;
          // The client left before the upstream request got a connection.
          if (exchange.settled) {
            proxyRequest.destroy();
            return;
          }
          stripHopByHop(req, proxyRequest);
          proxyRequest.setTimeout(exchange.options.timeoutMs, onUpstreamTimeout);
        },
        proxyRes(proxyResponse, req, res) {
          const exchange = exchangeOf(req);
          const status = proxyResponse.statusCode ?? 502;
          exchange.status = status;
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
          // The exchange ends when the client's response closes (onResponseClose).
          proxyResponse.once('error', onUpstreamResponseError);
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
        const exchange = new Exchange(forwardOptions, resolve);
        (request as Tagged<http.IncomingMessage>)[EXCHANGE] = exchange;
        // One listener per response, also when a fallback forwards it a second time.
        const tracked = response as Tagged<http.ServerResponse>;
        if (tracked[EXCHANGE] === undefined) response.on('close', onResponseClose);
        tracked[EXCHANGE] = exchange;
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
  const exchange = (request as Tagged<http.IncomingMessage>)[EXCHANGE];
  if (!exchange) throw new Error('request was not started through ProxyEngine.forward');
  return exchange;
}

/**
 * The client's response closed: after the upstream's answer was sent in full, or cut short
 * because the client went away, which cancels the upstream request.
 */
function onResponseClose(this: Tagged<http.ServerResponse>): void {
  const exchange = this[EXCHANGE];
  if (!exchange || exchange.settled) return;
  if (this.writableFinished) {
    exchange.settle({ kind: 'response', status: exchange.status });
    return;
  }
  exchange.proxyRequest?.destroy();
  exchange.settle({ kind: 'client-gone' });
}

/** The upstream did not answer within the route's timeout; the error handler answers 504. */
function onUpstreamTimeout(this: Tagged<http.ClientRequest>): void {
  const exchange = this[EXCHANGE];
  if (exchange) exchange.timedOut = true;
  this.destroy(new Error(`no answer within ${exchange?.options.timeoutMs ?? '?'} ms`));
}

/** The upstream's response broke off while streaming. */
function onUpstreamResponseError(this: http.IncomingMessage): void {
  const request = (this as http.IncomingMessage & { req?: Tagged<http.ClientRequest> }).req;
  request?.[EXCHANGE]?.settle({ kind: 'client-gone' });
}

/** Removes the hop-by-hop headers the client sent (and any its Connection header names). */
function stripHopByHop(request: http.IncomingMessage, proxyRequest: http.ClientRequest): void {
  const headers = request.headers;
  for (const name of HOP_BY_HOP) {
    if (headers[name] !== undefined) proxyRequest.removeHeader(name);
  }
  const connection = headers.connection;
  if (typeof connection === 'string') {
    for (const token of connection.split(',')) {
      const name = token.trim().toLowerCase();
      if (name && name !== 'connection') proxyRequest.removeHeader(name);
    }
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
