/**
 * The "plain" row: the proxy a team would write for itself, express 5 with http-proxy-middleware
 * 3 and default options (so no keep-alive agent: every request opens a new upstream connection).
 *
 * Started by ./server-process.ts with a PlainProxyConfig as argv[2].
 */
import { createServer } from 'node:http';
import express from 'express';
import { createProxyMiddleware } from 'http-proxy-middleware';
import { listenOnLoopback, readServerConfig, reportToParent } from './server-process.js';

/** What the parent passes. */
export interface PlainProxyConfig {
  /** 0 for any free port. */
  readonly port: number;
  /** The upstream, such as http://127.0.0.1:4100. */
  readonly target: string;
}

async function main(): Promise<void> {
  const config = readServerConfig<PlainProxyConfig>();
  const app = express();
  app.use(createProxyMiddleware({ target: config.target, changeOrigin: true }));
  const port = await listenOnLoopback(createServer(app), config.port);
  reportToParent({ kind: 'ready', port });
}

await main();
