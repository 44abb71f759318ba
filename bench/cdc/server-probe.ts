/**
 * Looks at the Postgres side of a run: how much CPU the decoding process used (from Linux's
 * /proc), and whether the walsender was ever held up by ficus not reading fast enough (from its
 * wait events), which tells whether a run was bound by Postgres or by ficus.
 */
import { readFile } from 'node:fs/promises';
import type pg from 'pg';

/** `USER_HZ`, the unit of /proc's CPU times: 100 on every mainstream Linux. */
const CLOCK_TICKS_PER_SECOND = 100;

/**
 * CPU time (user + system) process `pid` has used since it started, in ms (10 ms resolution);
 * undefined where there is no /proc or the process is gone.
 * Format: https://man7.org/linux/man-pages/man5/proc_pid_stat.5.html
 */
export async function processCpuMs(pid: number): Promise<number | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (stat === undefined) return undefined;
  // Fields after "pid (comm) " start at field 3 (state); utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return Number.isFinite(ticks) ? (ticks * 1000) / CLOCK_TICKS_PER_SECOND : undefined;
}

/** The pid of the walsender streaming from `slot`, if one is. */
async function walsenderPid(client: pg.Client, slot: string): Promise<number | undefined> {
  const { rows } = await client.query<{ pid: number | null }>(
    'SELECT active_pid AS pid FROM pg_replication_slots WHERE slot_name = $1',
    [slot],
  );
  return rows[0]?.pid ?? undefined;
}

/**
 * The CPU share (100 = one core) the walsender of `slot` has used over `elapsedMs`, taking its
 * whole life as the run: it was started for it. Undefined when it cannot be read.
 */
export async function walsenderCpuPercent(
  client: pg.Client,
  slot: string,
  elapsedMs: number,
): Promise<number | undefined> {
  const pid = await walsenderPid(client, slot);
  const cpuMs = pid === undefined ? undefined : await processCpuMs(pid);
  return cpuMs === undefined ? undefined : (cpuMs / elapsedMs) * 100;
}

/** How often {@link sampleWalsenderWaits} looks. */
const SAMPLE_INTERVAL_MS = 10;

/**
 * Samples the wait event of `slot`'s walsender until the returned function is called, which
 * resolves with the share (0–100) of samples in which it was blocked on a full socket
 * (`WalSenderWriteData`): Postgres had changes ready and ficus was not reading them. Undefined
 * when the walsender was never seen or sampling failed.
 * https://www.postgresql.org/docs/current/monitoring-stats.html#WAIT-EVENT-CLIENT-TABLE
 */
export function sampleWalsenderWaits(
  client: pg.Client,
  slot: string,
): () => Promise<number | undefined> {
  let sampling = true;
  let samples = 0;
  let blocked = 0;
  let failed = false;
  const loop = (async () => {
    while (sampling) {
      const { rows } = await client.query<{ wait_event: string | null }>(
        `SELECT a.wait_event FROM pg_stat_activity a
           JOIN pg_replication_slots s ON s.active_pid = a.pid
          WHERE s.slot_name = $1`,
        [slot],
      );
      const row = rows[0];
      if (row) {
        samples++;
        if (row.wait_event === 'WalSenderWriteData') blocked++;
      }
      await new Promise((resolve) => setTimeout(resolve, SAMPLE_INTERVAL_MS));
    }
  })().catch(() => (failed = true));
  return async () => {
    sampling = false;
    await loop;
    return failed || samples === 0 ? undefined : (blocked / samples) * 100;
  };
}
