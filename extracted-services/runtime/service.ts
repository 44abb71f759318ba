import type express from 'express';
import type { Knex } from 'knex';
import type { ChangeRecord } from '../../cdc/index.js';
import type { Logger } from '../../common/index.js';
import type { ApplyResult, CarriedState, TableMapping } from '../carried-state/index.js';

/**
 * What every extracted service is: an HTTP app over its own database, and a carried copy of
 * monolith tables kept by the carried-state helper. The runtime (`startExtractedService`) wires a
 * record source to `handle`, serves `app`, and adds the status and reconciliation endpoints.
 */
export interface ExtractedService {
  readonly name: string;
  /** The service's own endpoints (the ones the gateway routes to it). */
  readonly app: express.Express;
  readonly carried: CarriedState;
  /** The carried tables: what reconciliation compares with the source. */
  readonly mappings: readonly TableMapping[];
  /** `schema.table` of every source table the service needs from CDC. */
  readonly sourceTables: readonly string[];
  /** Applies a batch of change records, one batch after another in call order. */
  handle(records: readonly ChangeRecord[]): Promise<ApplyResult>;
  /** Creates or updates the service's schema and the carried-state bookkeeping tables. */
  migrate(): Promise<void>;
}

/** What a service factory gets. */
export interface ServiceDeps {
  /** The service's own database (never the monolith's). */
  readonly db: Knex;
  readonly logger?: Logger;
  /** Name the applied position is recorded under in `carried_progress`. */
  readonly consumer?: string;
}

/** Something a service runs beside its HTTP app (the reviews write-back, for example). */
export interface Companion {
  close(): Promise<void>;
  /** Shown under `companions` in the service's status. */
  status?(): unknown;
}

/** What a companion gets when the service starts. */
export interface CompanionContext {
  /** The service's own database URL. */
  readonly databaseUrl: string;
  /** The monolith's database URL, when configured. */
  readonly sourceDatabaseUrl: string | undefined;
  readonly logger: Logger;
}

/** A service `ficus service <name>` and the demo know how to run. */
export interface ServiceDefinition {
  readonly name: string;
  /** One line for `ficus service --help`. */
  readonly summary: string;
  readonly defaultPort: number;
  /** `schema.table` of every monolith table the service carries (what its source must deliver). */
  readonly sourceTables: readonly string[];
  create(deps: ServiceDeps): ExtractedService;
  /** Started after the service listens; closed before it stops. */
  startCompanion?(context: CompanionContext): Promise<Companion | undefined>;
}
