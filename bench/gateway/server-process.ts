/**
 * Servers under test (upstreams, the plain proxy, the ficus gateway), each in a Node process of
 * its own so that none shares an event loop with another or with the load generator.
 *
 *   parent ── fork (same tsx loader), JSON config as argv[2] ──▶ child starts listening
 *   parent ◀── { kind: 'ready', port } (IPC) ───────────────── child, then serves until killed
 *          ◀── { kind: 'unavailable', reason } ─────────────── child that cannot run, then exits
 *
 * A child exits on its own when the IPC channel closes, so it does not outlive a parent that
 * was killed outright.
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import type { Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { CleanupStack } from '../cdc/cleanup.js';

/** What a server child reports once, over IPC. */
export type ServerReport =
  | { readonly kind: 'ready'; readonly port: number }
  | { readonly kind: 'unavailable'; readonly reason: string };

/** The outcome of starting a server child. */
export type ServerStart =
  | { readonly kind: 'ready'; readonly port: number; readonly url: string }
  | { readonly kind: 'unavailable'; readonly reason: string };

export interface ServerProcessOptions {
  readonly cleanup: CleanupStack;
  /** Names the child in errors and cleanup messages. */
  readonly name: string;
  readonly timeoutMs?: number;
}

/** How long a child may take to exit after SIGTERM before it is killed. */
const TERM_GRACE_MS = 2_000;

/** Forks `script` with `config` and resolves once it listens (or says it cannot run). */
export async function startServerProcess(
  script: URL,
  config: unknown,
  options: ServerProcessOptions,
): Promise<ServerStart> {
  const child = fork(fileURLToPath(script), [JSON.stringify(config)], {
    execArgv: process.execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const isRunning = () => child.exitCode === null && child.signalCode === null;
  const stop = async () => {
    if (!isRunning()) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), TERM_GRACE_MS);
    await exited;
    clearTimeout(timer);
  };
  const stopEarly = options.cleanup.defer(`stop ${options.name} (pid ${child.pid ?? '?'})`, stop);

  const timeoutMs = options.timeoutMs ?? 30_000;
  let report: ServerReport;
  try {
    report = await new Promise<ServerReport>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${options.name} did not start within ${timeoutMs} ms`)),
        timeoutMs,
      );
      child.once('message', (message) => {
        clearTimeout(timer);
        resolve(message as ServerReport);
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${options.name} exited (${signal ?? `code ${code}`}) before listening`));
      });
    });
  } catch (error) {
    await stopEarly();
    throw error;
  }
  if (report.kind === 'unavailable') {
    await stopEarly();
    return report;
  }
  return { kind: 'ready', port: report.port, url: `http://127.0.0.1:${report.port}` };
}

/** The child's side: its config, as the parent passed it in argv[2]. */
export function readServerConfig<T>(): T {
  const raw = process.argv[2];
  if (raw === undefined) throw new Error('expected a JSON config as the first argument');
  return JSON.parse(raw) as T;
}

/** The child's side: tells the parent how things went, and exits with it. */
export function reportToParent(report: ServerReport): void {
  if (!process.send) throw new Error('must be started by the benchmark (no IPC channel)');
  process.once('disconnect', () => process.exit(0));
  process.send(report);
  if (report.kind === 'unavailable') process.disconnect();
}

/** Listens on 127.0.0.1:`port` (0 for any free port) and resolves with the bound port. */
export async function listenOnLoopback(server: Server, port: number): Promise<number> {
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return boundPort(server);
}

/** The port a listening server is bound to. */
export function boundPort(server: Server): number {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('server is not on TCP');
  return address.port;
}
