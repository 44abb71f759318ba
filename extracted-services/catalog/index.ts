/**
 * The catalog service: a read model (CQRS) that serves the monolith's `GET /products` and
 * `GET /products/:id` from its own database, carried from the monolith's tables over CDC. Other
 * components import it only through this file.
 */
export { createCatalogService, type CatalogService, type CatalogServiceDeps } from './service.js';
export {
  CATALOG_DEFINITION,
  DEFAULT_CATALOG_PORT,
  startCatalogService,
  type CatalogServiceOptions,
  type RunningCatalogService,
} from './server.js';
export { CATALOG_MAPPINGS, CATALOG_SOURCE_TABLES } from './mappings.js';
export type { ProductJson } from './products.js';
