import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/** A `ficus` CLI process started from source (through tsx), with its output captured. */
export interface FicusProcess extends CapturedOutput {
  readonly child: ChildProcess;
}

/** Runs `ficus <args>` the way `npm run ficus` does: TypeScript source through tsx. */
export function spawnFicus(
  args: readonly string[],
  env: Record<string, string> = {},
): FicusProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return { child, ...captureOutput(child, 'ficus') };
}

/** A child process's interleaved stdout and stderr, and a wait for a line in them. */
export interface CapturedOutput {
  /** stdout and stderr so far, interleaved. */
  readonly output: () => string;
  /** Resolves with the first match of `pattern` in the output; rejects on exit or timeout. */
  readonly waitFor: (pattern: RegExp, timeoutMs?: number) => Promise<RegExpMatchArray>;
  /** Resolves with the exit code (or the signal name) once the process has exited. */
  readonly exited: Promise<number | string>;
}

/** Collects `child`'s piped stdout and stderr; `name` says whose output it is in errors. */
export function captureOutput(child: ChildProcess, name: string): CapturedOutput {
  let output = '';
  const listeners = new Set<() => void>();
  const append = (chunk: Buffer) => {
    output += chunk.toString('utf8');
    for (const listener of listeners) listener();
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      resolve(code ?? signal ?? 'unknown');
      for (const listener of listeners) listener();
    });
  });

  const waitFor = (pattern: RegExp, timeoutMs = 60_000) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const check = () => {
        const match = output.match(pattern);
        if (match) return done(() => resolve(match));
        if (child.exitCode !== null || child.signalCode !== null) {
          done(() => reject(new Error(`${name} exited before printing ${pattern}:\n${output}`)));
        }
      };
      const timer = setTimeout(
        () => done(() => reject(new Error(`timed out waiting for ${pattern}:\n${output}`))),
        timeoutMs,
      );
      const done = (settle: () => void) => {
        clearTimeout(timer);
        listeners.delete(check);
        settle();
      };
      listeners.add(check);
      check();
    });

  return { output: () => output, waitFor, exited };
}

/** Pids of live processes whose command line contains `needle` (Linux /proc). */
export async function processesMatching(needle: string): Promise<number[]> {
  const { readdir, readFile } = await import('node:fs/promises');
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.replaceAll('\0', ' ').includes(needle)) pids.push(Number(entry));
  }
  return pids;
}
