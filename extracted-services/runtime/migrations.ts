import type { Knex } from 'knex';

/** One schema migration of a service's own database, and the name knex records for it. */
export interface NamedMigration {
  readonly name: string;
  readonly migration: Knex.Migration;
}

/**
 * A knex `migrationSource` over a fixed list of migrations, oldest first. Static, so the names
 * recorded in `knex_migrations` do not depend on running from TypeScript sources or from compiled
 * JavaScript. Append to the list; never edit a migration that has run somewhere.
 */
export function staticMigrationSource(
  migrations: readonly NamedMigration[],
): Knex.MigrationSource<NamedMigration> {
  return {
    getMigrations: () => Promise.resolve([...migrations]),
    getMigrationName: (entry) => entry.name,
    getMigration: (entry) => Promise.resolve(entry.migration),
  };
}
