/**
 * Data sync as the dashboard shows it: the CDC connector's status and the status of each extracted
 * service named in the route table's `services:` map, fetched by the gateway (the browser only
 * ever talks to the gateway). A status that cannot be fetched is reported as unavailable with the
 * reason; it never fails the report.
 *
 *   GET  <cdc status url>                 ConnectorStatus (cdc/stats.ts)
 *   GET  <service url>/_ficus/status      { service, state, source, lag, tables, reconciliation }
 *   POST <service url>/_ficus/reconcile   runs a reconciliation, answers with it
 *
 * CDC samples (events/s, slot lag, lag behind source) are kept from each fetch, at most one per
 * `sampleEveryMs`, in a bounded ring, so the page can chart them.
 */
import { z } from 'zod';
import { createSilentLogger, FicusError, type Logger } from '../../common/index.js';

/** What the connector's /status serves, as far as the dashboard reads it. */
const cdcStatusSchema = z.looseObject({
  state: z.string(),
  slot: z.string().optional(),
  sink: z.string().optional(),
  slotLagBytes: z.number().nullable().optional(),
  millisBehindSource: z.number().nullable().optional(),
  eventsPerSecond: z.number().optional(),
  totalEvents: z.number().optional(),
  tables: z.record(z.string(), z.record(z.string(), z.number())).optional(),
  lastError: z.string().nullable().optional(),
});

const reconciliationTableSchema = z.looseObject({
  table: z.string(),
  source: z.string().optional(),
  sourceRows: z.number().optional(),
  carriedRows: z.number().optional(),
  missing: z.number().optional(),
  extra: z.number().optional(),
  different: z.number().optional(),
  inSync: z.boolean(),
  differences: z
    .array(z.looseObject({ key: z.unknown(), kind: z.enum(['missing', 'extra', 'different']) }))
    .optional(),
});

/** A reconciliation as a service reports it. */
export const reconciliationSchema = z.looseObject({
  startedAt: z.string().optional(),
  finishedAt: z.string(),
  durationMs: z.number().optional(),
  inSync: z.boolean(),
  tables: z.array(reconciliationTableSchema),
});

/** What `GET <service>/_ficus/status` serves. */
const serviceStatusSchema = z.looseObject({
  service: z.string().optional(),
  state: z.string(),
  source: z.looseObject({ kind: z.string() }).optional(),
  lag: z
    .looseObject({
      eventsApplied: z.number().optional(),
      millisBehindSource: z.number().nullable().optional(),
      eventsBehind: z.number().nullable().optional(),
    })
    .optional(),
  tables: z
    .array(z.looseObject({ table: z.string(), source: z.string().optional(), rows: z.number() }))
    .optional(),
  reconciliation: reconciliationSchema.nullable().optional(),
});

export type CdcStatus = z.infer<typeof cdcStatusSchema>;
export type ServiceStatus = z.infer<typeof serviceStatusSchema>;
export type Reconciliation = z.infer<typeof reconciliationSchema>;

/** One CDC sample for the charts. */
export interface CdcSample {
  /** Unix milliseconds. */
  t: number;
  eventsPerSecond: number | null;
  slotLagBytes: number | null;
  millisBehindSource: number | null;
}

/** The connector as the dashboard shows it. */
export type CdcReport =
  | { url: string; available: true; status: CdcStatus; samples: CdcSample[] }
  | { url: string; available: false; error: string; samples: CdcSample[] };

/** One extracted service as the dashboard shows it. */
export type ServiceReport =
  | { name: string; url: string; available: true; status: ServiceStatus }
  | { name: string; url: string; available: false; error: string };

/** What GET /_ficus/api/sync serves. */
export interface SyncReport {
  /** ISO 8601. */
  at: string;
  /** null when the gateway has no CDC status URL. */
  cdc: CdcReport | null;
  services: ServiceReport[];
}

/** Fetches and keeps the sync state. */
export interface SyncMonitor {
  /** The current report; concurrent callers share one round of fetches. */
  report(): Promise<SyncReport>;
  /** Runs a reconciliation on service `name` and answers with what the service answered. */
  reconcile(name: string): Promise<unknown>;
}

/** What {@link createSyncMonitor} takes. */
export interface SyncMonitorOptions {
  /** The connector's status URL, e.g. http://127.0.0.1:3200/status. */
  cdcStatusUrl?: string;
  /** The route table's `services:` map as of now. */
  services: () => Readonly<Record<string, string>>;
  /** Per status fetch; default 2000. */
  timeoutMs?: number;
  /** Per reconciliation; default 120 000. */
  reconcileTimeoutMs?: number;
  /** Least time between two kept CDC samples; default 2000. */
  sampleEveryMs?: number;
  /** CDC samples kept; default 900. */
  maxSamples?: number;
  logger?: Logger;
  now?: () => number;
}

/** The service named is not in the route table's `services:` map. */
export class ServiceNotFoundError extends FicusError {
  constructor(name: string, known: string[]) {
    super(
      'FICUS_SERVICE_NOT_FOUND',
      `no service ${JSON.stringify(name)} in the route table; services are ${known.length ? known.join(', ') : 'none'}`,
      { statusCode: 404 },
    );
  }
}

/** A service could not be reached or answered with an error. */
export class ServiceCallError extends FicusError {
  constructor(code: string, message: string, options: { statusCode: number; cause?: unknown }) {
    super(code, message, options);
  }
}

/** Creates a monitor; nothing is fetched until `report` is called. */
export function createSyncMonitor(options: SyncMonitorOptions): SyncMonitor {
  const timeoutMs = options.timeoutMs ?? 2000;
  const reconcileTimeoutMs = options.reconcileTimeoutMs ?? 120_000;
  const sampleEveryMs = options.sampleEveryMs ?? 2000;
  const maxSamples = options.maxSamples ?? 900;
  const logger = options.logger ?? createSilentLogger();
  const now = options.now ?? (() => Date.now());
  const samples: CdcSample[] = [];
  let inFlight: Promise<SyncReport> | undefined;

  async function fetchCdc(url: string): Promise<CdcReport> {
    try {
      const status = cdcStatusSchema.parse(await getJson(url, timeoutMs));
      const at = now();
      const latest = samples[samples.length - 1];
      if (!latest || at - latest.t >= sampleEveryMs) {
        samples.push({
          t: at,
          eventsPerSecond: status.eventsPerSecond ?? null,
          slotLagBytes: status.slotLagBytes ?? null,
          millisBehindSource: status.millisBehindSource ?? null,
        });
        if (samples.length > maxSamples) samples.splice(0, samples.length - maxSamples);
      }
      return { url, available: true, status, samples: [...samples] };
    } catch (error) {
      return { url, available: false, error: describe(error), samples: [...samples] };
    }
  }

  async function fetchService(name: string, url: string): Promise<ServiceReport> {
    try {
      const status = serviceStatusSchema.parse(
        await getJson(`${trimSlash(url)}/_ficus/status`, timeoutMs),
      );
      return { name, url, available: true, status };
    } catch (error) {
      return { name, url, available: false, error: describe(error) };
    }
  }

  async function fetchAll(): Promise<SyncReport> {
    const services = Object.entries(options.services());
    const [cdc, ...reports] = await Promise.all([
      options.cdcStatusUrl ? fetchCdc(options.cdcStatusUrl) : Promise.resolve(null),
      ...services.map(([name, url]) => fetchService(name, url)),
    ]);
    return { at: new Date(now()).toISOString(), cdc, services: reports };
  }

  return {
    report() {
      inFlight ??= fetchAll().finally(() => {
        inFlight = undefined;
      });
      return inFlight;
    },

    async reconcile(name) {
      const services = options.services();
      const url = Object.hasOwn(services, name) ? services[name] : undefined;
      if (url === undefined) throw new ServiceNotFoundError(name, Object.keys(services));
      const target = `${trimSlash(url)}/_ficus/reconcile`;
      let response: Response;
      try {
        response = await fetch(target, {
          method: 'POST',
          headers: { accept: 'application/json' },
          signal: AbortSignal.timeout(reconcileTimeoutMs),
        });
      } catch (error) {
        logger.warn({ err: error, service: name }, 'reconciliation call failed');
        throw isTimeout(error)
          ? new ServiceCallError(
              'FICUS_SERVICE_TIMEOUT',
              `service ${name} (${url}) did not finish the reconciliation within ${reconcileTimeoutMs} ms`,
              { statusCode: 504, cause: error },
            )
          : new ServiceCallError(
              'FICUS_SERVICE_UNREACHABLE',
              `cannot reach service ${name} at ${url}: ${describe(error)}`,
              { statusCode: 502, cause: error },
            );
      }
      const text = await response.text();
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
      if (!response.ok) {
        const message = (body as { error?: { message?: unknown } } | undefined)?.error?.message;
        throw new ServiceCallError(
          'FICUS_SERVICE_FAILED',
          `service ${name} answered ${response.status} to POST /_ficus/reconcile${typeof message === 'string' ? `: ${message}` : ''}`,
          { statusCode: 502 },
        );
      }
      const parsed = reconciliationSchema.safeParse(body);
      if (!parsed.success) {
        throw new ServiceCallError(
          'FICUS_SERVICE_FAILED',
          `service ${name} answered POST /_ficus/reconcile with something that is not a reconciliation`,
          { statusCode: 502 },
        );
      }
      return parsed.data;
    },
  };
}

async function getJson(url: string, timeoutMs: number): Promise<unknown> {
  const response = await fetch(url, {
    headers: { accept: 'application/json' },
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${url} answered ${response.status}`);
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`${url} did not answer with JSON`);
  }
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

function isTimeout(error: unknown): boolean {
  return error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
}

/** A short reason for the page: the socket error code, a timeout, or the first schema problem. */
function describe(error: unknown): string {
  if (isTimeout(error)) return 'no answer in time';
  if (error instanceof z.ZodError) {
    const issue = error.issues[0];
    return `status does not fit the contract: ${issue ? `${issue.path.join('.') || 'body'}: ${issue.message}` : 'invalid'}`;
  }
  if (error instanceof Error) {
    const cause = error.cause;
    if (cause && typeof cause === 'object') {
      const { code, message } = cause as { code?: unknown; message?: unknown };
      if (typeof code === 'string') return code;
      if (typeof message === 'string' && message) return `${error.message}: ${message}`;
    }
    return error.message;
  }
  return String(error);
}
