/**
 * The embedded Postgres leaves the process's handlers as it found them. Its npm package installs
 * exit hooks on import, one of which called process.exit(0) on `beforeExit` and so turned a failed
 * test run (and any command's failing exit code) into a success.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { startEmbeddedPostgres } from '../../common/index.js';

/** Events whose handlers can end the process or change how it ends. */
const EVENTS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'beforeExit', 'message'] as const;

it("adds no process handlers: exit codes and signals stay the caller's", async () => {
  const counts = () => EVENTS.map((event) => [event, process.listenerCount(event)]);
  const before = counts();
  const dir = await mkdtemp(path.join(tmpdir(), 'ficus-pg-handlers-'));
  await chmod(dir, 0o755);
  try {
    const postgres = await startEmbeddedPostgres({
      dataDir: path.join(dir, 'pg'),
      ephemeral: true,
    });
    expect(counts()).toEqual(before);
    await postgres.stop();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  expect(counts()).toEqual(before);
}, 60_000);
