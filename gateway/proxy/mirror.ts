/**
 * Shadow traffic: a copy of a request sent to the new service, and response capture on both sides,
 * so the two answers can be compared. The copy never touches the client's exchange: it is sent on
 * its own connection pool, its failures are only recorded, and nothing waits for it.
 */
import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import type { CapturedResponse } from '../shadow/index.js';

/** Collects a stream's bytes up to `limit` without slowing it (it may be piped elsewhere too). */
export function captureBody(
  stream: Readable,
  limit: number,
): Promise<{ body: Buffer; truncated: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let truncated = false;
    stream.on('data', (chunk: Buffer) => {
      if (size >= limit) {
        truncated = true;
        return;
      }
      const room = limit - size;
      chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
      if (chunk.length > room) truncated = true;
      size += Math.min(chunk.length, room);
    });
    stream.once('end', () => resolve({ body: Buffer.concat(chunks), truncated }));
    stream.once('error', reject);
    stream.once('close', () => resolve({ body: Buffer.concat(chunks), truncated }));
  });
}

/** Sends shadow copies of requests, on keep-alive pools of their own. */
export interface Mirror {
  send(
    target: string,
    request: { method: string; path: string; headers: http.IncomingHttpHeaders; body?: Buffer },
    options: { timeoutMs: number; captureLimit: number },
  ): Promise<CapturedResponse>;
  close(): void;
}

const NOT_FORWARDED = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'upgrade',
  'transfer-encoding',
  'content-length',
  'host',
]);

export function createMirror(): Mirror {
  const agents = {
    http: new http.Agent({ keepAlive: true, noDelay: true, maxSockets: 64 }),
    https: new https.Agent({ keepAlive: true, noDelay: true, maxSockets: 64 }),
  };
  return {
    send(target, request, options) {
      return new Promise<CapturedResponse>((resolve, reject) => {
        const url = new URL(request.path, target);
        const headers: http.OutgoingHttpHeaders = { 'x-ficus-shadow': '1' };
        for (const [name, value] of Object.entries(request.headers)) {
          if (value !== undefined && !NOT_FORWARDED.has(name)) headers[name] = value;
        }
        if (request.body) headers['content-length'] = request.body.length;
        const secure = url.protocol === 'https:';
        const outgoing = (secure ? https : http).request(url, {
          method: request.method,
          headers,
          agent: secure ? agents.https : agents.http,
        });
        outgoing.setTimeout(options.timeoutMs, () =>
          outgoing.destroy(
            new Error(`shadow target did not answer within ${options.timeoutMs} ms`),
          ),
        );
        outgoing.once('error', reject);
        outgoing.once('response', (response) => {
          captureBody(response, options.captureLimit).then(
            ({ body, truncated }) =>
              resolve({
                status: response.statusCode ?? 0,
                headers: response.headers,
                body,
                truncated,
              }),
            reject,
          );
        });
        outgoing.end(request.body);
      });
    },
    close() {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}
