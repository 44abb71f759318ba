/**
 * The legacy monolith: the e-commerce application ficus migrates away from. Other components
 * import it only through this file.
 */
export { createLegacyApp, type LegacyAppDeps } from './app.js';
export { createLegacyDatabase, migrateLegacyDatabase, type LegacyPoolOptions } from './database.js';
export {
  ConflictError,
  InsufficientBalanceError,
  InvalidJsonError,
  NotFoundError,
  OutOfStockError,
  PayloadTooLargeError,
  ValidationError,
} from './errors.js';
export { generateSeedData, seedLegacyDatabase, type SeedData } from './seed.js';
export {
  DEFAULT_LEGACY_PORT,
  startLegacyMonolith,
  type LegacyMonolithOptions,
  type RunningLegacyMonolith,
} from './server.js';
export type {
  CategoryJson,
  MemberJson,
  OrderJson,
  OrderStatus,
  PageJson,
  ProductJson,
  ReviewJson,
  WishlistEntryJson,
} from './serializers.js';
export { LEGACY_TABLES } from './tables.js';
