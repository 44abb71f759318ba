/**
 * The compiled build (dist/) for tests that run ficus as an installed package does (`npx ficus`
 * → bin/ficus.js → dist/cli/main.js). `ensureBuilt()` runs `npm run build` when dist/ is missing
 * or older than a source it is built from, one build at a time across test files (a lock file,
 * .ficus/build.lock, holding the builder's pid). On CI, where dist/ was just built, it does
 * nothing.
 */
import { execFile } from 'node:child_process';
import { mkdir, open, readdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { waitUntil } from '../cdc/harness.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const entry = path.join(repoRoot, 'dist/cli/main.js');
const lockFile = path.join(repoRoot, '.ficus/build.lock');
/** What `npm run build` compiles (tsconfig.build.json) and copies (the dashboard's page). */
const sources = [
  'index.ts',
  'cli',
  'common',
  'gateway',
  'cdc',
  'extracted-services',
  'legacy-monolith',
];

async function newestSource(relative: string): Promise<number> {
  const full = path.join(repoRoot, relative);
  const info = await stat(full).catch(() => undefined);
  if (!info) return 0;
  if (!info.isDirectory()) return info.mtimeMs;
  let newest = 0;
  for (const entry of await readdir(full, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    const copied = file.includes(`${path.sep}dashboard${path.sep}public${path.sep}`);
    if (!copied && !(entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts'))) continue;
    newest = Math.max(newest, (await stat(file)).mtimeMs);
  }
  return newest;
}

/** True when dist/cli/main.js is missing or older than any source file. */
export async function isBuildStale(): Promise<boolean> {
  const built = await stat(entry).catch(() => undefined);
  if (!built) return true;
  const newest = Math.max(...(await Promise.all(sources.map(newestSource))));
  return newest > built.mtimeMs;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Takes the build lock, waiting while a live process holds it; a dead holder's lock is removed. */
async function lock(): Promise<() => Promise<void>> {
  await mkdir(path.dirname(lockFile), { recursive: true });
  const release = () => rm(lockFile, { force: true });
  await waitUntil(
    async () => {
      try {
        const handle = await open(lockFile, 'wx');
        await handle.writeFile(String(process.pid));
        await handle.close();
        return true;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const holder = Number(await readFile(lockFile, 'utf8').catch(() => ''));
        if (holder > 0 && !isRunning(holder)) await release();
        return false;
      }
    },
    180_000,
    () => `for ${lockFile}`,
  );
  return release;
}

/** Builds dist/ with `npm run build` unless it is up to date. */
export async function ensureBuilt(): Promise<void> {
  if (!(await isBuildStale())) return;
  const release = await lock();
  try {
    // Another test file may have built while this one waited.
    if (!(await isBuildStale())) return;
    await promisify(execFile)('npm', ['run', 'build'], {
      cwd: repoRoot,
      maxBuffer: 16 * 1024 * 1024,
    }).catch((error: { stdout?: string; stderr?: string }) => {
      throw new Error(`npm run build failed:\n${error.stdout ?? ''}${error.stderr ?? ''}`);
    });
  } finally {
    await release();
  }
}
