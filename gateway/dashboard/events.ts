/**
 * The dashboard's live stream: server-sent events at GET /_ficus/api/events
 * (https://html.spec.whatwg.org/multipage/server-sent-events.html). Authenticated like the rest of
 * the admin API; a browser's EventSource sends the dashboard session cookie (admin/session.ts).
 *
 *   event: routes      a new route table version, as soon as it is current   RouteTableVersion
 *   event: stats       every `statsEveryMs` (2 s)                             Overview
 *   event: mismatches  new shadow mismatches since the last tick, at most 20  MismatchSummary[]
 *   event: sync        every `syncEveryMs` (5 s)                              SyncReport
 *
 * One snapshot per tick is built and written to every client, and nothing is built or fetched
 * while no client is connected. A client that stops reading (over 1 MiB buffered) is dropped; its
 * EventSource reconnects by itself.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createSilentLogger, type Logger } from '../../common/index.js';
import type { Mismatch, MismatchLog } from '../shadow/index.js';
import type { RouteStore, RouteTableVersion } from '../store/index.js';
import type { Overview } from './overview.js';
import type { SyncReport } from './sync.js';

/** A mismatch as the stream announces it; the page fetches the full one when it is opened. */
export interface MismatchSummary {
  id: number;
  routeId: string;
  at: string;
  method: string;
  path: string;
  primaryStatus: number;
  candidateStatus: number;
  differences: number;
}

/** The live stream. */
export interface EventHub {
  /** Serves one client until it goes away. */
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** Clients connected now. */
  readonly clients: number;
  /** Ends every stream and stops the timers. */
  close(): void;
}

/** What {@link createEventHub} needs. */
export interface EventHubOptions {
  store: RouteStore;
  mismatches: MismatchLog;
  overview: () => Overview;
  sync: () => Promise<SyncReport>;
  statsEveryMs?: number;
  syncEveryMs?: number;
  logger?: Logger;
}

const MAX_BUFFERED = 1024 * 1024;
const MAX_MISMATCHES_PER_TICK = 20;

/** Creates the hub; it subscribes to the store and the mismatch log until closed. */
export function createEventHub(options: EventHubOptions): EventHub {
  const logger = options.logger ?? createSilentLogger();
  const statsEveryMs = options.statsEveryMs ?? 2000;
  const syncEveryMs = options.syncEveryMs ?? 5000;
  const clients = new Set<ServerResponse>();
  let pending: MismatchSummary[] = [];
  let statsTimer: NodeJS.Timeout | undefined;
  let syncTimer: NodeJS.Timeout | undefined;
  let syncing = false;

  const unsubscribeStore = options.store.subscribe((version: RouteTableVersion) => {
    if (clients.size > 0) broadcast('routes', version);
  });
  const unsubscribeMismatches = options.mismatches.subscribe((event) => {
    if (event.type !== 'mismatch' || clients.size === 0) return;
    pending.push(summarize(event.mismatch));
    if (pending.length > MAX_MISMATCHES_PER_TICK) pending = pending.slice(-MAX_MISMATCHES_PER_TICK);
  });

  function frame(event: string, data: unknown): string {
    return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
  }

  function write(res: ServerResponse, text: string): void {
    if (res.writableLength > MAX_BUFFERED) {
      logger.warn('dashboard stream client is not reading; dropping it');
      res.destroy();
      return;
    }
    res.write(text);
  }

  function broadcast(event: string, data: unknown): void {
    const text = frame(event, data);
    for (const res of clients) write(res, text);
  }

  function tickStats(): void {
    try {
      broadcast('stats', options.overview());
      if (pending.length > 0) {
        const batch = pending;
        pending = [];
        broadcast('mismatches', batch);
      }
    } catch (error) {
      logger.error({ err: error }, 'dashboard snapshot failed');
    }
  }

  function tickSync(): void {
    if (syncing) return;
    syncing = true;
    options
      .sync()
      .then((report) => broadcast('sync', report))
      .catch((error: unknown) => logger.warn({ err: error }, 'dashboard sync report failed'))
      .finally(() => {
        syncing = false;
      });
  }

  function start(): void {
    statsTimer ??= setInterval(tickStats, statsEveryMs);
    syncTimer ??= setInterval(tickSync, syncEveryMs);
  }

  function stop(): void {
    clearInterval(statsTimer);
    clearInterval(syncTimer);
    statsTimer = undefined;
    syncTimer = undefined;
    pending = [];
  }

  return {
    handle(req, res) {
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      res.flushHeaders();
      req.socket.setNoDelay(true);
      clients.add(res);
      start();
      res.on('close', () => {
        clients.delete(res);
        if (clients.size === 0) stop();
      });
      write(res, 'retry: 3000\n\n');
      write(res, frame('routes', options.store.current()));
      try {
        write(res, frame('stats', options.overview()));
      } catch (error) {
        logger.error({ err: error }, 'dashboard snapshot failed');
      }
      options.sync().then(
        (report) => {
          if (clients.has(res)) write(res, frame('sync', report));
        },
        (error: unknown) => logger.warn({ err: error }, 'dashboard sync report failed'),
      );
    },

    get clients() {
      return clients.size;
    },

    close() {
      unsubscribeStore();
      unsubscribeMismatches();
      stop();
      for (const res of clients) res.end();
      clients.clear();
    },
  };
}

function summarize(mismatch: Mismatch): MismatchSummary {
  return {
    id: mismatch.id,
    routeId: mismatch.routeId,
    at: mismatch.at,
    method: mismatch.request.method,
    path: mismatch.request.path,
    primaryStatus: mismatch.primary.status,
    candidateStatus: mismatch.candidate.status,
    differences: mismatch.differences.length,
  };
}
