import type express from 'express';
import type { Knex } from 'knex';
import {
  isChangeEventValue,
  recordOrigin,
  type ChangeRecord,
  createSilentLogger,
  type Logger,
  createCarriedState,
  type ApplyResult,
  type CarriedState,
  type TableMapping,
  inOrder,
} from '../../index.js';
import { createReviewsApp } from './app.js';
import { REVIEWS_MAPPINGS, REVIEWS_SOURCE_TABLES } from './mappings.js';
import { migrationSource } from './migrations/index.js';
import { DEFAULT_WRITE_BACK_ORIGIN } from './ownership.js';

/** What {@link createReviewsService} needs. */
export interface ReviewsServiceDeps {
  /** The service's own database (never the monolith's). */
  db: Knex;
  /** Default: silent. */
  logger?: Logger;
  /** Name the applied position is recorded under in `carried_progress`; default `reviews`. */
  consumer?: string;
  /**
   * The replication origin the write-back stamps on its transactions in the monolith
   * (`startReviewsWriteBack({ originName })`); default `ficus_reviews`.
   */
  writeBackOrigin?: string;
}

/** What one {@link ReviewsService.handle} did. */
export interface ReviewsApplyResult extends ApplyResult {
  /** Change events dropped because the write-back wrote them: the service's own changes. */
  readonly echoes: number;
}

/** The reviews service: HTTP app, its carried copy, and how to feed it. */
export interface ReviewsService {
  readonly name: 'reviews';
  readonly app: express.Express;
  readonly carried: CarriedState;
  readonly mappings: readonly TableMapping[];
  /** `schema.table` of every monolith table the connector feeding {@link handle} must include. */
  readonly sourceTables: readonly string[];
  /**
   * Applies a batch of the monolith's CDC records (any tables; only the carried ones are used),
   * except those of transactions written under the write-back's replication origin. Batches are
   * applied one after another in call order, so a sink may call this without awaiting.
   */
  handle(records: readonly ChangeRecord[]): Promise<ReviewsApplyResult>;
  /** Creates or updates the local schema and the carried-state bookkeeping tables. */
  migrate(): Promise<void>;
}

/**
 * The reviews service: serves `GET` and `POST /products/:id/reviews` byte for byte as the monolith
 * does, from its carried copy of the monolith's products, members and reviews plus the reviews it
 * writes itself. The caller wires the monolith's record source to `handle`, and runs
 * `startReviewsWriteBack` so the service's own reviews reach the monolith.
 */
export function createReviewsService(deps: ReviewsServiceDeps): ReviewsService {
  const { db } = deps;
  const logger = (deps.logger ?? createSilentLogger()).child({ service: 'reviews' });
  const consumer = deps.consumer ?? 'reviews';
  const writeBackOrigin = deps.writeBackOrigin ?? DEFAULT_WRITE_BACK_ORIGIN;
  const carried = createCarriedState({ db, mappings: REVIEWS_MAPPINGS, logger });

  async function apply(records: readonly ChangeRecord[]): Promise<ReviewsApplyResult> {
    const kept: ChangeRecord[] = [];
    let echoes = 0;
    for (const record of records) {
      if (recordOrigin(record) !== writeBackOrigin) kept.push(record);
      else if (isChangeEventValue(record.value)) echoes++;
    }
    const result = await carried.apply(kept, { consumer });
    if (echoes > 0) logger.debug({ echoes }, 'skipped changes the write-back made');
    return { ...result, echoes };
  }

  const handle = inOrder((records: readonly ChangeRecord[]): Promise<ReviewsApplyResult> =>
    apply(records),
  );

  async function migrate(): Promise<void> {
    await db.migrate.latest({ migrationSource });
    await carried.migrate();
  }

  return {
    name: 'reviews',
    app: createReviewsApp({ db, logger }),
    carried,
    mappings: REVIEWS_MAPPINGS,
    sourceTables: REVIEWS_SOURCE_TABLES,
    handle,
    migrate,
  };
}
