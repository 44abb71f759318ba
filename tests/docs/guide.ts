/**
 * Reads a guide under docs/ and runs its steps, so a test can follow it as a reader does and the
 * guide cannot rot. The guide stays ordinary Markdown; only fenced blocks' info strings carry
 * meaning (the first word is the language, as every Markdown renderer reads it):
 *
 *   ```yaml file=routes.yaml     a file the reader creates, at that path relative to their project
 *   ```sh                        commands the reader runs; the block is one step
 *   ```sh background             a long-running command left running in a terminal of its own
 *   ```sh eventually             a check that holds within moments; run again until it exits 0
 *   ```sh env                    `export NAME=value` lines for the reader's own system: the test
 *                                supplies its own values and never runs these
 *   anything else (```text, ```console, ```json, ```yaml without file=)   illustration only
 *
 * Command lines lose comments and blank lines, and lines ending in `\` are joined with the next
 * (so a heredoc in a block must not hold blank lines or lines starting with `#`).
 * A step runs as `bash -c 'set -euo pipefail; <lines>'` in the reader's project folder with a
 * reader-like environment: PATH (without node_modules/.bin folders), HOME, USER, LANG, TMPDIR,
 * plus what the test passes; nothing else of the test process leaks in (no DATABASE_URL,
 * KAFKA_BROKERS or FICUS_* of the test run).
 */
import { spawn } from 'node:child_process';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { waitUntil } from '../cdc/harness.js';
import { captureOutput, type CapturedOutput } from '../support/cli.js';

/** A file the reader writes. */
export interface GuideFile {
  readonly kind: 'file';
  /** Relative to the reader's project folder. */
  readonly path: string;
  readonly content: string;
  /** 1-based line of the opening fence, for messages. */
  readonly line: number;
}

/** A block of commands the reader runs. */
export interface GuideCommands {
  readonly kind: 'commands';
  readonly lines: readonly string[];
  /** Left running in a terminal of its own (` ```sh background `). */
  readonly background: boolean;
  /** A check that holds within moments; re-run until it exits 0 (` ```sh eventually `). */
  readonly eventually: boolean;
  readonly line: number;
}

/** Variables the reader sets for their own system (` ```sh env `). */
export interface GuideEnv {
  readonly kind: 'env';
  /** Name → the guide's example value, as written. */
  readonly vars: ReadonlyMap<string, string>;
  readonly line: number;
}

/** One step of a guide, in document order. */
export type GuideStep = GuideFile | GuideCommands | GuideEnv;

interface Fence {
  info: string[];
  body: string[];
  line: number;
}

function fences(markdown: string): Fence[] {
  const found: Fence[] = [];
  let open: (Fence & { marker: string }) | undefined;
  markdown.split('\n').forEach((text, index) => {
    if (open) {
      if (text.trim() === open.marker) {
        found.push(open);
        open = undefined;
      } else open.body.push(text);
      return;
    }
    const start = /^(`{3,}|~{3,})\s*(.*)$/.exec(text);
    if (start) {
      open = { marker: start[1]!, info: start[2]!.trim().split(/\s+/), body: [], line: index + 1 };
    }
  });
  if (open) throw new Error(`guide: the code block opened on line ${open.line} is not closed`);
  return found;
}

/** Drops comments and blank lines; joins `\`-continued lines. */
function commandLines(body: readonly string[]): string[] {
  const lines: string[] = [];
  let pending = '';
  for (const raw of body) {
    const text = raw.trim();
    if (pending === '' && (text === '' || text.startsWith('#'))) continue;
    if (text.endsWith('\\')) {
      pending += `${text.slice(0, -1).trimEnd()} `;
      continue;
    }
    lines.push(pending + text);
    pending = '';
  }
  if (pending) lines.push(pending.trimEnd());
  return lines;
}

/** Every step of the guide: files, command blocks and env blocks, in document order. */
export function guideSteps(markdown: string): GuideStep[] {
  const steps: GuideStep[] = [];
  for (const fence of fences(markdown)) {
    const [lang, ...flags] = fence.info;
    const file = flags.find((flag) => flag.startsWith('file='));
    if (file) {
      steps.push({
        kind: 'file',
        path: file.slice('file='.length),
        content: fence.body.map((line) => `${line}\n`).join(''),
        line: fence.line,
      });
    } else if (lang === 'sh' && flags.includes('env')) {
      const vars = new Map<string, string>();
      for (const text of commandLines(fence.body)) {
        const match = /^export ([A-Z_][A-Z0-9_]*)=(\S*)/.exec(text);
        if (!match)
          throw new Error(`guide line ${fence.line}: not an export in an env block: ${text}`);
        vars.set(match[1]!, match[2]!);
      }
      steps.push({ kind: 'env', vars, line: fence.line });
    } else if (lang === 'sh') {
      steps.push({
        kind: 'commands',
        lines: commandLines(fence.body),
        background: flags.includes('background'),
        eventually: flags.includes('eventually'),
        line: fence.line,
      });
    }
  }
  return steps;
}

/** The files the reader creates, in order. */
export function guideFiles(markdown: string): GuideFile[] {
  return guideSteps(markdown).filter((step): step is GuideFile => step.kind === 'file');
}

/** The command blocks the reader runs (foreground and background), in order. */
export function guideCommands(markdown: string): GuideCommands[] {
  return guideSteps(markdown).filter((step): step is GuideCommands => step.kind === 'commands');
}

/** Names of every variable the guide's env blocks export. */
export function guideEnvNames(markdown: string): string[] {
  return guideSteps(markdown).flatMap((step) => (step.kind === 'env' ? [...step.vars.keys()] : []));
}

/** Where and with what a step runs. */
export interface RunOptions {
  /** The reader's project folder. */
  cwd: string;
  /** Added to the reader-like base environment (see the top of this file). */
  env: Record<string, string>;
}

/** A finished foreground step. */
export interface StepResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function readerEnv(env: Record<string, string>): Record<string, string> {
  const base: Record<string, string> = {};
  for (const name of ['HOME', 'USER', 'LANG', 'TMPDIR']) {
    const value = process.env[name];
    if (value !== undefined) base[name] = value;
  }
  base.PATH = (process.env.PATH ?? '')
    .split(':')
    .filter((entry) => !entry.includes('node_modules/.bin'))
    .join(':');
  return { ...base, ...env };
}

function script(block: GuideCommands): string {
  return `set -euo pipefail\n${block.lines.join('\n')}\n`;
}

/** Runs a foreground block to completion (killed after `timeoutMs`). */
export function runStep(
  block: GuideCommands,
  options: RunOptions & { timeoutMs?: number },
): Promise<StepResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', script(block)], {
      cwd: options.cwd,
      env: readerEnv(options.env),
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 60_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('close', (code, signal) =>
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr }),
    );
  });
}

/** Runs an `eventually` block until it exits 0; fails with its last output after `timeoutMs`. */
export async function runStepUntilOk(
  block: GuideCommands,
  options: RunOptions & { timeoutMs?: number },
): Promise<StepResult> {
  let last: StepResult | undefined;
  await waitUntil(
    async () => (last = await runStep(block, options)).code === 0,
    options.timeoutMs ?? 15_000,
    () => `running ${block.lines.join('; ')}: exit ${last?.code}\n${last?.stdout}${last?.stderr}`,
  );
  return last!;
}

/** A background block running in a process group of its own. */
export interface BackgroundStep extends CapturedOutput {
  readonly block: GuideCommands;
  /** Of the block's shell, which leads the process group; `exited` is the shell's. */
  readonly pid: number;
  /**
   * Signals the whole group (SIGINT is Ctrl-C in the reader's terminal) and resolves once no
   * process of it is left; SIGKILL after `graceMs`.
   */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
}

/** Starts a background block as the leader of a new process group. */
export function startBackground(block: GuideCommands, options: RunOptions): BackgroundStep {
  const child = spawn('bash', ['-c', script(block)], {
    cwd: options.cwd,
    env: readerEnv(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const pid = child.pid!;
  const captured = captureOutput(child, block.lines[0] ?? 'the block');

  const groupAlive = async () => (await groupMembers(pid)).length > 0;
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-pid, signal);
    } catch {
      // The group is gone already.
    }
  };
  const stop = async (signal: NodeJS.Signals = 'SIGTERM', graceMs = 15_000) => {
    signalGroup(signal);
    try {
      await waitUntil(async () => !(await groupAlive()), graceMs);
    } catch {
      signalGroup('SIGKILL');
      await waitUntil(async () => !(await groupAlive()), 5_000);
    }
  };

  return { block, pid, ...captured, stop };
}

/**
 * Live (not zombie) processes of process group `pgid`, from /proc: a zombie whose parent does not
 * reap it must not count as running.
 */
export async function groupMembers(pgid: number): Promise<number[]> {
  const members: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // pid (comm) state ppid pgrp …; comm may hold spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) === pgid && fields[0] !== 'Z') members.push(Number(entry));
  }
  return members;
}

/**
 * Guides name things that are global to a Postgres cluster (a role such as `ficus_cdc`, the
 * replication slot `ficus`), and the tests share one cluster. A test that follows a guide holds
 * this advisory lock from before the guide's first step until its cleanup, so two guides' tests
 * never use those names at once. Resolves with the release.
 */
export async function lockGuideNames(adminUrl: string): Promise<() => Promise<void>> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  await client.query("SELECT pg_advisory_lock(hashtext('ficus docs guides'))");
  return () => client.end();
}

/** What the test does around one of the reader's command blocks (the first whose line matches). */
export interface GuideHook {
  readonly match: RegExp;
  /** Before the block runs: e.g. Ctrl-C on a background block the guide says to stop. */
  before?(): Promise<void>;
  /** After it ran (foreground) or started (background: required, to wait until it is ready). */
  after?(ran: BackgroundStep | StepResult): Promise<void>;
  /** Part of a section that may be left out (`stopAt`); need not fire then. */
  readonly optional?: boolean;
}

/** How {@link followGuide} stands in for the reader's system. */
export interface FollowOptions {
  /** The reader's project folder. */
  readonly cwd: string;
  /** The environment every block runs with; values of `sh env` blocks are added to it. */
  readonly env: Record<string, string>;
  /** The test's value for every variable the guide exports. */
  readonly readerValues: Readonly<Record<string, string>>;
  /** Per file path, replacements of the reader's addresses by the test's (one at least must occur). */
  readonly fileSubstitutions?: Readonly<Record<string, readonly [from: string, to: string][]>>;
  readonly hooks?: readonly GuideHook[];
  /** Stops before this `sh env` block (a section the test cannot follow here); says why. */
  stopAt?(step: GuideEnv): string | undefined;
  /** Background blocks started so far, by this and earlier guides (stopped by the caller). */
  readonly running: BackgroundStep[];
}

/** What following a guide did. */
export interface FollowedGuide {
  /** Foreground blocks that ran, in order, with their results (each exited 0). */
  readonly ran: { block: GuideCommands; result: StepResult }[];
  /** Why the guide was followed only in part. */
  readonly stoppedAt: string | undefined;
  /** The result of the first block with a line matching `pattern`. */
  resultOf(pattern: RegExp): StepResult | undefined;
}

/**
 * Follows a guide from top to bottom as a reader would: writes its files (with the test's
 * addresses), runs its command blocks exactly as written, starts its background blocks, and lets
 * `hooks` wait or act between them. Fails when a block exits non-zero, when a block matches more
 * than one hook, when a background block has no readiness wait, or when a hook never fired.
 */
export async function followGuide(
  markdown: string,
  options: FollowOptions,
): Promise<FollowedGuide> {
  const { cwd, env } = options;
  const hooks = options.hooks ?? [];
  const used = new Map<GuideHook, number>();
  const ran: FollowedGuide['ran'] = [];
  let stoppedAt: string | undefined;

  for (const step of guideSteps(markdown)) {
    if (step.kind === 'env') {
      stoppedAt = options.stopAt?.(step);
      if (stoppedAt) break;
      for (const name of step.vars.keys()) {
        const value = options.readerValues[name];
        if (value === undefined)
          throw new Error(`the guide exports ${name}; give the test a value`);
        env[name] = value;
      }
    } else if (step.kind === 'file') {
      let content = step.content;
      const substitutions = options.fileSubstitutions?.[step.path] ?? [];
      if (substitutions.length > 0 && !substitutions.some(([from]) => content.includes(from)))
        throw new Error(
          `guide line ${step.line}: ${step.path} holds none of ${substitutions.map(([from]) => from).join(', ')}`,
        );
      for (const [from, to] of substitutions) content = content.replaceAll(from, to);
      await mkdir(path.dirname(path.join(cwd, step.path)), { recursive: true });
      await writeFile(path.join(cwd, step.path), content);
    } else {
      const matching = hooks.filter((hook) => step.lines.some((line) => hook.match.test(line)));
      if (matching.length > 1)
        throw new Error(`guide line ${step.line}: ${matching.length} hooks match one block`);
      const hook = matching[0];
      if (hook) used.set(hook, (used.get(hook) ?? 0) + 1);
      await hook?.before?.();
      if (step.background) {
        if (!hook?.after)
          throw new Error(
            `guide line ${step.line}: no readiness wait for ${step.lines.join('; ')}`,
          );
        const started = startBackground(step, { cwd, env });
        options.running.push(started);
        await hook.after(started);
      } else {
        const result = await (step.eventually ? runStepUntilOk : runStep)(step, { cwd, env });
        if (process.env.FICUS_TEST_VERBOSE)
          console.log(`$ ${step.lines.join('\n$ ')}\n${result.stdout}${result.stderr}`);
        if (result.code !== 0)
          throw new Error(
            `guide line ${step.line}: ${step.lines.join('; ')} exited ${result.code}\n${result.stdout}${result.stderr}`,
          );
        ran.push({ block: step, result });
        await hook?.after?.(result);
      }
    }
  }
  const unused = hooks.filter((hook) => !used.has(hook) && !(stoppedAt && hook.optional));
  if (unused.length > 0)
    throw new Error(
      `hooks that never fired: ${unused.map((hook) => hook.match.source).join(', ')}`,
    );
  return {
    ran,
    stoppedAt,
    resultOf: (pattern) =>
      ran.find(({ block }) => block.lines.some((line) => pattern.test(line)))?.result,
  };
}
