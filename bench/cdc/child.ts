/**
 * Runs one measurement in a fresh Node process: its peak RSS and CPU time are its own, and no
 * heap or JIT state carries over from an earlier measurement.
 *
 *   parent ── fork (same tsx loader) ──▶ child imports everything, then waits
 *   parent ── job (IPC) ───────────────▶ child runs it
 *   parent ◀── { ok, result | error } ── child, then it disconnects and exits
 */
import { fork, type Serializable } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describeError, type CleanupStack } from './cleanup.js';

/** What a child sends back. */
export type ChildReply<R> =
  { readonly ok: true; readonly result: R } | { readonly ok: false; readonly error: string };

export interface ChildOptions {
  readonly cleanup: CleanupStack;
  /** How long the job may take before the child is killed and the run fails. */
  readonly timeoutMs: number;
  /** Write a V8 CPU profile of the child into this folder. */
  readonly cpuProfileDir?: string | undefined;
}

/** How long a finished child may take to exit on its own (closing sockets, writing a profile). */
const EXIT_GRACE_MS = 15_000;

/** Forks `script`, hands it `job`, and resolves with its result once it has exited. */
export async function runInChild<J extends Serializable, R>(
  script: URL,
  job: J,
  options: ChildOptions,
): Promise<R> {
  const execArgv = [...process.execArgv];
  if (options.cpuProfileDir) execArgv.push('--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`);
  const child = fork(fileURLToPath(script), [], {
    execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const isRunning = () => child.exitCode === null && child.signalCode === null;
  const kill = async () => {
    if (isRunning()) child.kill('SIGKILL');
    await exited;
  };
  const killEarly = options.cleanup.defer(`kill benchmark child ${child.pid ?? '?'}`, kill);

  let reply: ChildReply<R>;
  try {
    reply = await new Promise<ChildReply<R>>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no result within ${options.timeoutMs} ms`)),
        options.timeoutMs,
      );
      child.once('message', (message) => {
        clearTimeout(timer);
        resolve(message as ChildReply<R>);
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`exited (${signal ?? `code ${code}`}) without a result`));
      });
      child.send(job);
    });
  } catch (error) {
    await killEarly();
    throw error;
  }
  const graceTimer = setTimeout(() => void kill(), EXIT_GRACE_MS);
  await exited;
  clearTimeout(graceTimer);
  await killEarly();
  if (!reply.ok) throw new Error(reply.error);
  return reply.result;
}

/**
 * The child's side: waits for one job, runs it, replies, and lets the process exit (forcing it
 * after a moment if a library left a handle open).
 */
export function serveOneJob<J, R extends Serializable>(run: (job: J) => Promise<R>): void {
  process.once('message', (job) => {
    const reply = (message: ChildReply<R>) =>
      process.send!(message, undefined, undefined, () => {
        process.disconnect();
        setTimeout(() => process.exit(0), 2_000).unref();
      });
    run(job as J).then(
      (result) => reply({ ok: true, result }),
      (error: unknown) => reply({ ok: false, error: describeError(error) }),
    );
  });
}
