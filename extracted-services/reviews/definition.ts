import type { Companion, CompanionContext, ServiceDefinition } from '../../index.js';
import { REVIEWS_SOURCE_TABLES } from './mappings.js';
import { createReviewsService } from './service.js';
import { superviseWriteBack } from './supervisor.js';
import { startReviewsWriteBack } from './write-back.js';

/** Default port of the reviews service. */
export const DEFAULT_REVIEWS_PORT = 3102;

/**
 * The reviews service as `ficus service reviews` and the demo run it: the service, plus the
 * write-back into the monolith (restarted with backoff when it fails) whenever the monolith's
 * database URL is configured (without it
 * the service's own reviews stay in its database, which is only right while its route is
 * `legacy` or `shadow`).
 */
export const REVIEWS_DEFINITION: ServiceDefinition = Object.freeze({
  name: 'reviews',
  summary: 'product reviews (list and post), written back into the monolith',
  defaultPort: DEFAULT_REVIEWS_PORT,
  sourceTables: REVIEWS_SOURCE_TABLES,
  create: createReviewsService,
  async startCompanion({
    databaseUrl,
    sourceDatabaseUrl,
    logger,
  }: CompanionContext): Promise<Companion | undefined> {
    if (sourceDatabaseUrl === undefined) {
      logger.warn('no monolith database configured: reviews posted here are not written back');
      return undefined;
    }
    return superviseWriteBack({
      start: () =>
        startReviewsWriteBack({
          serviceDatabaseUrl: databaseUrl,
          monolithDatabaseUrl: sourceDatabaseUrl,
          logger,
        }),
      logger,
    });
  },
});
