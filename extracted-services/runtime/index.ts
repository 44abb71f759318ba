/**
 * The runtime every extracted service shares: the HTTP server with status and reconciliation
 * endpoints, and the record sources (in-process sink, own connector, Kafka consumer group).
 */
export {
  ReconcileUnavailableError,
  startExtractedService,
  type ExtractedServiceOptions,
  type RunningService,
  type ServiceStatus,
} from './server.js';
export {
  reconcile,
  type Reconciliation,
  type ReconcileOptions,
  type RowDifference,
  type TableReconciliation,
} from './reconcile.js';
export type {
  Companion,
  CompanionContext,
  ExtractedService,
  ServiceDefinition,
  ServiceDeps,
} from './service.js';
export type {
  BatchHandler,
  RecordSource,
  SourceKind,
  SourceStatus,
  StartContext,
} from './sources/source.js';
export { createConnectorSource, type ConnectorSourceOptions } from './sources/connector.js';
export { createEmbeddedSource, type EmbeddedSourceOptions } from './sources/embedded.js';
export { createKafkaSource, type KafkaSourceOptions } from './sources/kafka.js';
export { createServiceApp, type ServiceAppErrors, type ServiceAppOptions } from './http.js';
export {
  InvalidJsonError,
  NotFoundError,
  PayloadTooLargeError,
  ValidationError,
} from './errors.js';
export {
  describeValue,
  integerParam,
  MAX_ID,
  parseInput,
  toPagination,
  type Pagination,
} from './params.js';
export { inOrder } from './in-order.js';
export {
  defineService,
  Router,
  DEFAULT_SERVICE_ERRORS,
  isServiceDefinition,
  SERVICE_NAME_PATTERN,
  type ServiceContext,
  type ServiceMigration,
  type ServiceReaction,
  type ServiceSpec,
} from './define.js';
export { staticMigrationSource, type NamedMigration } from './migrations.js';
export { loadServiceModule, type LoadServiceOptions } from './load.js';
export type { DeclarativeOptions } from './declarative.js';
