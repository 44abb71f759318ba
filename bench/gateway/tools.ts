/** Finds the external programs the gateway benchmark drives: wrk and nginx (Debian packages). */
import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { FicusError } from '../../common/index.js';

/** The command that installs both, named in every message about a missing one. */
export const INSTALL_HINT = 'apt-get install -y wrk nginx';

/** A program the benchmark cannot run without is not installed. */
export class MissingToolError extends FicusError {
  constructor(message: string) {
    super('FICUS_BENCH_TOOL_MISSING', message);
  }
}

/** Where each program was found, or undefined. */
export interface BenchTools {
  readonly wrk: string | undefined;
  readonly nginx: string | undefined;
}

/** sbin folders are searched too: nginx lives in /usr/sbin, which a non-root PATH often lacks. */
const SBIN = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

/** Looks wrk and nginx up on PATH (and in the sbin folders). */
export async function findTools(env: NodeJS.ProcessEnv = process.env): Promise<BenchTools> {
  const dirs = [...(env.PATH ?? '').split(delimiter).filter(Boolean), ...SBIN];
  const [wrk, nginx] = await Promise.all([
    findExecutable('wrk', dirs),
    findExecutable('nginx', dirs),
  ]);
  return { wrk, nginx };
}

/** "wrk and nginx not found: apt-get install -y wrk nginx", or undefined when both are there. */
export function missingToolsMessage(tools: BenchTools): string | undefined {
  const missing = (['wrk', 'nginx'] as const).filter((name) => tools[name] === undefined);
  if (missing.length === 0) return undefined;
  return `${missing.join(' and ')} not found on PATH or in ${SBIN.join(', ')}; on Debian or Ubuntu install with: ${INSTALL_HINT}`;
}

async function findExecutable(name: string, dirs: readonly string[]): Promise<string | undefined> {
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}
