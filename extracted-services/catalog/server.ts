import {
  type ChangeRecord,
  type Logger,
  type ApplyResult,
  startExtractedService,
  type RecordSource,
  type RunningService,
  type ServiceDefinition,
} from '../../index.js';
import { CATALOG_SOURCE_TABLES } from './mappings.js';
import { createCatalogService } from './service.js';

/** Default port of the catalog service. */
export const DEFAULT_CATALOG_PORT = 3101;

/** How `ficus service catalog` and the demo run the catalog. */
export const CATALOG_DEFINITION: ServiceDefinition = Object.freeze({
  name: 'catalog',
  summary: 'product list and product detail, from a carried copy of the catalog tables',
  defaultPort: DEFAULT_CATALOG_PORT,
  sourceTables: CATALOG_SOURCE_TABLES,
  create: createCatalogService,
});

/** Options of {@link startCatalogService}. */
export interface CatalogServiceOptions {
  /** `postgres://…` URL of the catalog's own database. */
  databaseUrl: string;
  /** TCP port; default 3101, 0 for any free port. */
  port?: number;
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
  /** Where change records come from; without one, feed it through `apply`. */
  source?: RecordSource;
  /** The monolith's database, for reconciliation. */
  sourceDatabaseUrl?: string;
  /** Default: silent. */
  logger?: Logger;
}

/** A catalog service started by {@link startCatalogService}. */
export interface RunningCatalogService extends RunningService {
  /** Applies a batch of CDC records directly (tests, custom sources). */
  apply(records: readonly ChangeRecord[]): Promise<ApplyResult>;
}

/**
 * Starts the catalog service on its own database: migrates, listens. Throws a ConfigError naming
 * the field for invalid options.
 */
export async function startCatalogService(
  options: CatalogServiceOptions,
): Promise<RunningCatalogService> {
  const running = await startExtractedService({ ...options, definition: CATALOG_DEFINITION });
  return { ...running, apply: (records) => running.service.handle(records) };
}
