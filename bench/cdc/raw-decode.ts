/**
 * The ceiling: how fast Postgres itself decodes the pending WAL with pgoutput, for the same
 * publication and the same changes ficus streams, with no network and no client in the way.
 *
 * `pg_logical_slot_peek_binary_changes` runs the walsender's decoding (reorder buffer and the
 * pgoutput plugin, protocol version 1) inside the backend and does not move the slot, so every
 * repetition decodes the same WAL.
 * https://www.postgresql.org/docs/current/functions-admin.html#FUNCTIONS-REPLICATION
 */
import type pg from 'pg';
import { processCpuMs } from './server-probe.js';
import type { ThroughputSample } from './samples.js';

/**
 * Times decoding everything pending on `slot`. `events` is the number of row changes expected
 * among the messages (which also include Begin, Relation and Commit).
 */
export async function measureRawDecode(
  client: pg.Client,
  slot: string,
  publication: string,
  events: number,
): Promise<ThroughputSample> {
  const backend = await backendPid(client);
  const cpuBefore = await processCpuMs(backend);
  const started = performance.now();
  const { rows } = await client.query<{ messages: string; changes: string }>(
    `SELECT count(*) AS messages,
            count(*) FILTER (WHERE get_byte(data, 0) IN (73, 85, 68)) AS changes -- 'I', 'U', 'D'
       FROM pg_logical_slot_peek_binary_changes($1, NULL, NULL,
              'proto_version', '1', 'publication_names', $2)`,
    [slot, publication],
  );
  const elapsedMs = performance.now() - started;
  const cpuAfter = await processCpuMs(backend);
  const changes = Number(rows[0]?.changes ?? 0);
  if (changes !== events)
    throw new Error(`slot ${slot} decoded ${changes} row changes, expected ${events}`);
  const serverCpuPercent =
    cpuBefore === undefined || cpuAfter === undefined
      ? undefined
      : ((cpuAfter - cpuBefore) / elapsedMs) * 100;
  return { elapsedMs, events, serverCpuPercent };
}

async function backendPid(client: pg.Client): Promise<number> {
  const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  return rows[0]!.pid;
}
