/**
 * The nginx row: nginx as a reverse proxy to upstream A, the way it is usually set up in front
 * of Node: an `upstream` block with a pool of 64 keep-alive connections, HTTP/1.1 to the
 * upstream, no access log. Everything it writes (pid, temp folders, error log) goes to a temp
 * folder; it runs in the foreground (`daemon off`) so the benchmark owns the process.
 *
 * `keepalive_requests` is raised on both sides to match Node, which never closes a keep-alive
 * connection after a number of requests (nginx's default closes after 1 000).
 * Directives: https://nginx.org/en/docs/http/ngx_http_upstream_module.html#keepalive
 */
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { findFreePort } from '../../common/index.js';
import type { CleanupStack } from '../cdc/cleanup.js';

export interface NginxOptions {
  readonly binary: string;
  /** A private temp folder for the config, pid file, temp paths and error log. */
  readonly dir: string;
  /** The upstream nginx proxies to, such as http://127.0.0.1:4100. */
  readonly upstream: string;
  /** worker_processes: a number or `auto`. */
  readonly workers: string;
  readonly cleanup: CleanupStack;
}

/** A running nginx. */
export interface RunningNginx {
  readonly url: string;
}

const START_TIMEOUT_MS = 10_000;

/** The nginx.conf the benchmark runs with. */
export function nginxConfig(options: {
  dir: string;
  port: number;
  upstreamHostPort: string;
  workers: string;
  asRoot: boolean;
}): string {
  const path = (name: string) => join(options.dir, name);
  return `# Written by ficus bench:gateway (bench/gateway/nginx.ts).
${options.asRoot ? 'user root;\n' : ''}worker_processes ${options.workers};
daemon off;
master_process on;
pid ${path('nginx.pid')};
error_log ${path('error.log')} warn;

events {
  worker_connections 4096;
}

http {
  access_log off;
  client_body_temp_path ${path('client_body')};
  proxy_temp_path ${path('proxy')};
  fastcgi_temp_path ${path('fastcgi')};
  uwsgi_temp_path ${path('uwsgi')};
  scgi_temp_path ${path('scgi')};
  keepalive_requests 1000000;

  upstream bench_upstream {
    server ${options.upstreamHostPort};
    keepalive 64;
    keepalive_requests 1000000;
  }

  server {
    listen 127.0.0.1:${options.port};

    location / {
      proxy_pass http://bench_upstream;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`;
}

/** Writes the config, starts nginx in the foreground and resolves once it accepts connections. */
export async function startNginx(options: NginxOptions): Promise<RunningNginx> {
  const port = await findFreePort();
  const conf = join(options.dir, 'nginx.conf');
  await writeFile(
    conf,
    nginxConfig({
      dir: options.dir,
      port,
      upstreamHostPort: new URL(options.upstream).host,
      workers: options.workers,
      asRoot: process.getuid?.() === 0,
    }),
  );
  // -e: nginx opens its default error log before reading the config unless told otherwise.
  const child = spawn(
    options.binary,
    ['-p', options.dir, '-c', conf, '-e', join(options.dir, 'error.log')],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  let spawnError: Error | undefined;
  child.once('error', (error) => (spawnError = error));
  const isRunning = () => child.exitCode === null && child.signalCode === null && !spawnError;
  const stopEarly = options.cleanup.defer(`stop nginx (pid ${child.pid ?? '?'})`, async () => {
    if (!isRunning()) return;
    child.kill('SIGTERM'); // fast shutdown; the master stops its workers
    const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
    await exited;
    clearTimeout(timer);
  });

  const deadline = performance.now() + START_TIMEOUT_MS;
  while (!(await accepts(port))) {
    if (!isRunning() || performance.now() > deadline) {
      await stopEarly();
      const log = await readFile(join(options.dir, 'error.log'), 'utf8').catch(() => '');
      const why = spawnError?.message ?? (stderr.trim() || log.trim().slice(-2_000) || 'no output');
      throw new Error(`nginx did not start: ${why}`);
    }
    await sleep(50);
  }
  return { url: `http://127.0.0.1:${port}` };
}

/** True when something accepts a TCP connection on 127.0.0.1:`port`. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
