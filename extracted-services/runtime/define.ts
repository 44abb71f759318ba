import express from 'express';
import type { Knex } from 'knex';
import { z } from 'zod';
import type { ChangeRecord } from '../../cdc/index.js';
import { ConfigError, createSilentLogger, type Logger } from '../../common/index.js';
import {
  compileMapping,
  createCarriedState,
  type AppliedChange,
  type ApplyResult,
  type TableMapping,
} from '../carried-state/index.js';
import { InvalidJsonError, NotFoundError, PayloadTooLargeError } from './errors.js';
import { createServiceApp, type ServiceAppErrors } from './http.js';
import { inOrder } from './in-order.js';
import { staticMigrationSource, type NamedMigration } from './migrations.js';
import type {
  CompanionContext,
  Companion,
  ExtractedService,
  ServiceDefinition,
} from './service.js';

/**
 * express's `Router`, so a service's module needs no express of its own:
 * `routes: ({ db }) => Router().get('/books/:id', …)`.
 */
export const Router: () => express.Router = () => express.Router();

/** What a service's routes and reactions get: its own database and its logger. */
export interface ServiceContext {
  /** knex on the service's own database (never the monolith's). */
  readonly db: Knex;
  readonly logger: Logger;
}

/**
 * Reacts to the changes a batch applied, inside the batch's local transaction (see
 * `ApplyOptions.onApplied`): what it writes through `trx` commits with the carried rows, or not at
 * all. Duplicates and replays never reach it.
 */
export type ServiceReaction = (
  trx: Knex.Transaction,
  changes: readonly AppliedChange[],
  context: ServiceContext,
) => Promise<void> | void;

/** One step of a service's schema: `up` runs once per database, in list order. */
export interface ServiceMigration {
  readonly name: string;
  up(knex: Knex): Promise<void>;
  /** Undoes `up`; only knex's rollback calls it. */
  down?(knex: Knex): Promise<void>;
}

/** Everything {@link defineService} needs to know about a service. */
export interface ServiceSpec {
  /** Lower-case letters, digits, `_` and `-`; names its slot, consumer group and logs. */
  readonly name: string;
  /** One line for `ficus service --help` and the logs. */
  readonly summary?: string;
  /** The port it listens on unless told otherwise (ficus's own services use 3101–3103). */
  readonly port: number;
  /** The monolith tables it carries, each into a local table of its own database. */
  readonly tables: readonly TableMapping[];
  /**
   * Its own schema, oldest first: the local tables and anything else it keeps. Each runs once per
   * database (recorded by name in `knex_migrations`); append new ones, never edit one that ran.
   */
  readonly migrations?: readonly ServiceMigration[];
  /** Its endpoints; the runtime adds `GET /health`, a JSON 404 and JSON error answers. */
  readonly routes?: (context: ServiceContext) => express.Router;
  /** The errors its 404 and body-parser failures answer with; default the runtime's. */
  readonly errors?: ServiceAppErrors;
  /** Parse JSON request bodies up to this size (e.g. `100kb`); leave out for read-only. */
  readonly bodyLimit?: string;
  /** A side effect of applied changes, once per change (see {@link ServiceReaction}). */
  readonly onApplied?: ServiceReaction;
  /** Something it runs beside its HTTP app, started after it listens. */
  readonly companion?: (context: CompanionContext) => Promise<Companion | undefined>;
}

/** The runtime's errors, worded as ficus's reference monolith words them. */
export const DEFAULT_SERVICE_ERRORS: ServiceAppErrors = Object.freeze({
  notFound: (message: string) => new NotFoundError(message),
  invalidJson: (message: string, cause: unknown) => new InvalidJsonError(message, { cause }),
  payloadTooLarge: (message: string, cause: unknown) =>
    new PayloadTooLargeError(message, { cause }),
});

/** A service name: what slot names, consumer groups and log lines are made from. */
export const SERVICE_NAME_PATTERN = /^[a-z][a-z0-9_-]{0,39}$/;

const fn = (error: string) =>
  z.custom<(...args: never[]) => unknown>((value) => typeof value === 'function', { error });

const mappingSchema = z.object(
  {
    source: z
      .string({ error: 'must be "schema.table"' })
      .regex(/^[^.]+\.[^.]+$/, { error: 'must be "schema.table"' }),
    table: z.string({ error: 'must be a table name' }).min(1, { error: 'must be a table name' }),
    key: z
      .array(z.string(), { error: 'must list the key columns' })
      .min(1, { error: 'must list the key columns' }),
    columns: z.union([z.array(z.string()), z.record(z.string(), z.unknown())], {
      error: 'must list the columns, or map source names to local names',
    }),
  },
  { error: 'must be { source, table, key, columns }' },
);

const specSchema = z.object({
  name: z.string({ error: 'must be a string' }).regex(SERVICE_NAME_PATTERN, {
    error:
      'must start with a lower-case letter, then lower-case letters, digits, _ or - (at most 40)',
  }),
  summary: z.string({ error: 'must be a string' }).optional(),
  port: z
    .int({ error: 'must be an integer from 1 to 65535' })
    .min(1, { error: 'must be an integer from 1 to 65535' })
    .max(65535, { error: 'must be an integer from 1 to 65535' }),
  tables: z.array(mappingSchema, { error: 'must be a list of table mappings' }).min(1, {
    error: 'must carry at least one table ({ source, table, key, columns })',
  }),
  migrations: z
    .array(
      z.object(
        {
          name: z.string({ error: 'must be a string' }).min(1, { error: 'must not be empty' }),
          up: fn('must be a function (knex) => Promise<void>'),
          down: fn('must be a function (knex) => Promise<void>').optional(),
        },
        { error: 'must be { name, up(knex), down?(knex) }' },
      ),
      { error: 'must be a list of { name, up(knex) }' },
    )
    .optional(),
  routes: fn('must be a function (context) => express.Router').optional(),
  bodyLimit: z.string({ error: 'must be a size such as 100kb' }).optional(),
  onApplied: fn('must be a function (trx, changes, context)').optional(),
  companion: fn('must be a function (context) => Promise<Companion>').optional(),
});

/**
 * Declares an extracted service: what it carries, its schema, its endpoints and its reactions.
 * The result is what `ficus service --module` runs and what `startExtractedService` takes; the
 * runtime adds the record source, `/_ficus/status`, `/_ficus/reconcile` and `/_ficus/health`.
 * A bad spec fails here with a ConfigError naming the field.
 */
export function defineService(spec: ServiceSpec): ServiceDefinition {
  checkSpec(spec);
  const tables = Object.freeze([...spec.tables]);
  const migrations = spec.migrations?.map(toNamedMigration);
  const sourceTables = Object.freeze([...new Set(tables.map((t) => t.source))]);

  function create(deps: { db: Knex; logger?: Logger; consumer?: string }): ExtractedService {
    const { db } = deps;
    const logger = (deps.logger ?? createSilentLogger()).child({ service: spec.name });
    const context: ServiceContext = Object.freeze({ db, logger });
    const consumer = deps.consumer ?? spec.name;
    const carried = createCarriedState({ db, mappings: tables, logger });
    const react = spec.onApplied;
    const onApplied = react
      ? (trx: Knex.Transaction, changes: readonly AppliedChange[]) => react(trx, changes, context)
      : undefined;
    const handle = inOrder((records: readonly ChangeRecord[]): Promise<ApplyResult> =>
      carried.apply(records, { consumer, onApplied }),
    );
    const app = createServiceApp({
      routes: spec.routes?.(context) ?? express.Router(),
      errors: spec.errors ?? DEFAULT_SERVICE_ERRORS,
      logger,
      bodyLimit: spec.bodyLimit,
    });
    return {
      name: spec.name,
      app,
      carried,
      mappings: tables,
      sourceTables,
      handle,
      async migrate() {
        if (migrations)
          await db.migrate.latest({ migrationSource: staticMigrationSource(migrations) });
        await carried.migrate();
      },
    };
  }

  return Object.freeze({
    name: spec.name,
    summary: spec.summary ?? `carries ${sourceTables.join(', ')}`,
    defaultPort: spec.port,
    sourceTables,
    create,
    ...(spec.companion ? { startCompanion: spec.companion } : {}),
  });
}

function toNamedMigration(step: ServiceMigration): NamedMigration {
  return {
    name: step.name,
    migration: {
      up: (knex: Knex) => step.up(knex),
      down: (knex: Knex) => {
        if (!step.down) throw new ConfigError(`migration ${step.name} has no down()`);
        return step.down(knex);
      },
    },
  };
}

/** Whether `value` is a service definition (what a `--module` must export). */
export function isServiceDefinition(value: unknown): value is ServiceDefinition {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Partial<ServiceDefinition>;
  return (
    typeof candidate.name === 'string' &&
    typeof candidate.defaultPort === 'number' &&
    Array.isArray(candidate.sourceTables) &&
    typeof candidate.create === 'function'
  );
}

function checkSpec(spec: ServiceSpec): void {
  const where = `defineService(${typeof spec?.name === 'string' ? JSON.stringify(spec.name) : ''})`;
  const parsed = specSchema.safeParse(spec, { reportInput: true });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.map(String).join('.') || 'spec';
    const got =
      issue?.input === undefined
        ? 'nothing'
        : typeof issue.input === 'function'
          ? 'a function'
          : JSON.stringify(issue.input);
    throw new ConfigError(`${where}: ${field} ${issue?.message ?? 'is invalid'}, got ${got}`, {
      cause: parsed.error,
    });
  }
  const locals = new Set<string>();
  spec.tables.forEach((mapping, index) => {
    try {
      compileMapping(mapping);
    } catch (error) {
      throw new ConfigError(`${where}: tables.${index}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    if (locals.has(mapping.table))
      throw new ConfigError(
        `${where}: tables.${index}.table ${JSON.stringify(mapping.table)} is carried twice; each source table needs a local table of its own`,
      );
    locals.add(mapping.table);
  });
  const names = new Set<string>();
  for (const [index, migration] of (spec.migrations ?? []).entries()) {
    if (names.has(migration.name))
      throw new ConfigError(
        `${where}: migrations.${index}.name ${JSON.stringify(migration.name)} is used twice; each migration needs a name of its own`,
      );
    names.add(migration.name);
  }
}
