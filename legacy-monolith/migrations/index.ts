import type { Knex } from 'knex';
import * as catalog from './001-catalog.js';
import * as members from './002-members.js';
import * as orders from './003-orders.js';
import * as reviews from './004-reviews.js';
import * as wishlists from './005-wishlists.js';

/** One schema migration and the name knex records for it in `knex_migrations`. */
export interface NamedMigration {
  readonly name: string;
  readonly migration: Knex.Migration;
}

/**
 * Every migration, oldest first. The list is static, so the same names are recorded whether the
 * monolith runs from TypeScript sources under tsx or from the compiled `dist/` build; knex never
 * scans a directory or looks at file extensions. Append new migrations; never rename or edit one
 * that has shipped.
 */
export const MIGRATIONS: readonly NamedMigration[] = Object.freeze([
  { name: '001-catalog', migration: catalog },
  { name: '002-members', migration: members },
  { name: '003-orders', migration: orders },
  { name: '004-reviews', migration: reviews },
  { name: '005-wishlists', migration: wishlists },
]);

/** The knex `migrationSource` that serves {@link MIGRATIONS}. */
export const migrationSource: Knex.MigrationSource<NamedMigration> = {
  getMigrations: () => Promise.resolve([...MIGRATIONS]),
  getMigrationName: (entry) => entry.name,
  getMigration: (entry) => Promise.resolve(entry.migration),
};
