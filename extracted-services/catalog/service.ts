import type express from 'express';
import type { Knex } from 'knex';
import {
  type ChangeRecord,
  createSilentLogger,
  type Logger,
  createCarriedState,
  type ApplyResult,
  type CarriedState,
  inOrder,
  type ExtractedService,
} from '../../index.js';
import { createCatalogApp } from './app.js';
import { CATALOG_MAPPINGS, CATALOG_SOURCE_TABLES } from './mappings.js';
import { migrationSource } from './migrations/index.js';

/** What {@link createCatalogService} needs. */
export interface CatalogServiceDeps {
  /** The catalog's own database (never the monolith's). */
  db: Knex;
  /** Default: silent. */
  logger?: Logger;
  /** Name the applied position is recorded under in `carried_progress`; default `catalog`. */
  consumer?: string;
}

/** The catalog read model: HTTP app plus the carried copy it serves from. */
export interface CatalogService extends ExtractedService {
  readonly name: 'catalog';
  readonly app: express.Express;
  readonly carried: CarriedState;
  /**
   * Applies a batch of CDC records (any tables; only the carried ones are used). Batches are
   * applied one after another in call order, so a sink may call this without awaiting.
   */
  handle(records: readonly ChangeRecord[]): Promise<ApplyResult>;
  /** Creates or updates the local schema and the carried-state bookkeeping tables. */
  migrate(): Promise<void>;
}

/**
 * The catalog service: serves `GET /products` and `GET /products/:id` from its carried copy of
 * the monolith's `categories`, `products` and `reviews`, byte for byte as the monolith does. The
 * caller wires the record source (an embedded CDC sink, a Kafka consumer) to `handle`.
 */
export function createCatalogService(deps: CatalogServiceDeps): CatalogService {
  const { db } = deps;
  const logger = (deps.logger ?? createSilentLogger()).child({ service: 'catalog' });
  const consumer = deps.consumer ?? 'catalog';
  const carried = createCarriedState({ db, mappings: CATALOG_MAPPINGS, logger });

  const handle = inOrder((records: readonly ChangeRecord[]): Promise<ApplyResult> =>
    carried.apply(records, { consumer }),
  );

  async function migrate(): Promise<void> {
    await db.migrate.latest({ migrationSource });
    await carried.migrate();
  }

  return {
    name: 'catalog',
    app: createCatalogApp({ db, logger }),
    carried,
    mappings: CATALOG_MAPPINGS,
    sourceTables: CATALOG_SOURCE_TABLES,
    handle,
    migrate,
  };
}
