import { staticMigrationSource, type NamedMigration } from '../../../index.js';
import * as carriedCatalog from './001-carried-catalog.js';

/**
 * Every migration of the catalog's own database, oldest first. Static, so the recorded names do
 * not depend on running from TypeScript sources or from `dist/`. Append; never edit a shipped one.
 */
export const MIGRATIONS: readonly NamedMigration[] = Object.freeze([
  { name: '001-carried-catalog', migration: carriedCatalog },
]);

/** The knex `migrationSource` that serves {@link MIGRATIONS}. */
export const migrationSource = staticMigrationSource(MIGRATIONS);
