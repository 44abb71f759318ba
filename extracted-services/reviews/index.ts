/**
 * The reviews service: owns the monolith's product reviews (`GET` and `POST
 * /products/:id/reviews`), carries the products and members it needs over CDC, and writes the
 * reviews it takes back into the monolith. Other components import it only through this file.
 */
export {
  createReviewsService,
  type ReviewsApplyResult,
  type ReviewsService,
  type ReviewsServiceDeps,
} from './service.js';
export {
  DEFAULT_WRITE_BACK_SLOT,
  ReviewsWriteBackError,
  startReviewsWriteBack,
  type ReviewsWriteBack,
  type ReviewsWriteBackOptions,
  type ReviewsWriteBackStatus,
} from './write-back.js';
export { DEFAULT_REVIEWS_PORT, REVIEWS_DEFINITION } from './definition.js';
export { REVIEWS_MAPPINGS, REVIEWS_SOURCE_TABLES } from './mappings.js';
export {
  DEFAULT_WRITE_BACK_ORIGIN,
  SERVICE_REVIEW_IDS,
  WRITTEN_BY_MONOLITH,
  WRITTEN_BY_SERVICE,
} from './ownership.js';
export type { ReviewJson } from './reviews.js';
