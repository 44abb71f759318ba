/**
 * Closed-loop throughput with wrk (https://github.com/wg/wrk): every row runs with the same
 * threads, connections, duration and Lua script, so wrk does the same work for each.
 *
 * The script cycles the requests through 64 values of the canary key header (a sticky 50%
 * canary then splits them) and, in wrk's `done()` hook, prints the run's figures as one JSON
 * line: the same numbers `--latency` prints, without parsing units out of text.
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CleanupStack } from '../cdc/cleanup.js';
import { BENCH_PATH, CANARY_HEADER, CANARY_KEYS } from './traffic.js';

const RESULT_MARKER = 'FICUS_WRK ';

const SCRIPT = `-- Written by ficus bench:gateway (bench/gateway/wrk.ts).
local prepared = {}
local next_index = 0

function init(args)
  for i = 1, ${CANARY_KEYS} do
    local headers = {}
    for name, value in pairs(wrk.headers) do headers[name] = value end
    headers["${CANARY_HEADER}"] = "user-" .. i
    prepared[i] = wrk.format(nil, nil, headers)
  end
end

function request()
  next_index = next_index % #prepared + 1
  return prepared[next_index]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '${RESULT_MARKER}{"requests":%d,"durationUs":%d,"p50Us":%.1f,"p99Us":%.1f,"maxUs":%.1f,' ..
    '"connectErrors":%d,"readErrors":%d,"writeErrors":%d,"statusErrors":%d,"timeouts":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
`;

/** wrk settings shared by every row. */
export interface WrkSettings {
  readonly threads: number;
  readonly connections: number;
}

/** One wrk run. */
export interface WrkSample {
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly requests: number;
  /** Non-2xx/3xx answers plus socket errors and timeouts. */
  readonly errors: number;
}

interface WrkDone {
  readonly requests: number;
  readonly durationUs: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly maxUs: number;
  readonly connectErrors: number;
  readonly readErrors: number;
  readonly writeErrors: number;
  readonly statusErrors: number;
  readonly timeouts: number;
}

/** Writes the Lua script into `dir` and returns a runner bound to it. */
export async function createWrk(
  binary: string,
  dir: string,
  settings: WrkSettings,
  cleanup: CleanupStack,
) {
  const script = join(dir, 'bench.lua');
  await writeFile(script, SCRIPT);
  return {
    /** Runs wrk against `baseUrl` + BENCH_PATH for `seconds`. */
    run: (baseUrl: string, seconds: number): Promise<WrkSample> =>
      runWrk(
        binary,
        [
          `-t${settings.threads}`,
          `-c${settings.connections}`,
          `-d${seconds}s`,
          '--latency',
          '-s',
          script,
          `${baseUrl}${BENCH_PATH}`,
        ],
        seconds,
        cleanup,
      ),
  };
}

async function runWrk(
  binary: string,
  args: readonly string[],
  seconds: number,
  cleanup: CleanupStack,
): Promise<WrkSample> {
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code));
  });
  const stopEarly = cleanup.defer(`stop wrk (pid ${child.pid ?? '?'})`, async () => {
    child.kill('SIGKILL');
    await exited.catch(() => undefined);
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), (seconds + 30) * 1000);
  try {
    const code = await exited;
    const line = stdout.split('\n').find((text) => text.startsWith(RESULT_MARKER));
    if (code !== 0 || line === undefined) {
      const output = `${stderr}${stdout}`.trim() || 'no output';
      throw new Error(`wrk ${args.join(' ')} failed (exit ${code ?? 'killed'}): ${output}`);
    }
    return toSample(JSON.parse(line.slice(RESULT_MARKER.length)) as WrkDone);
  } finally {
    clearTimeout(timer);
    await stopEarly();
  }
}

function toSample(done: WrkDone): WrkSample {
  return {
    requestsPerSecond: done.requests / (done.durationUs / 1e6),
    p50Ms: done.p50Us / 1000,
    p99Ms: done.p99Us / 1000,
    maxMs: done.maxUs / 1000,
    requests: done.requests,
    errors:
      done.connectErrors + done.readErrors + done.writeErrors + done.statusErrors + done.timeouts,
  };
}
