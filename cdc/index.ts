/**
 * ficus CDC: Postgres logical replication (pgoutput) to Debezium-format change records, delivered
 * at least once to Kafka, stdout or in-process handlers. Other components import only this file.
 */
export {
  createConnector,
  CONNECTOR_DEFAULTS,
  type Connector,
  type ConnectorOptions,
  type SnapshotMode,
} from './connector.js';
export { byteSizeSchema, cdcConfigSchema, CDC_ENVIRONMENT, type CdcConfig } from './config.js';
export { CdcSetupError, CdcSlotError } from './errors.js';
export { formatBytes, parseByteSize } from './byte-size.js';
export {
  dropCdcResources,
  findInactiveSlots,
  listSlots,
  parsePublicationMarker,
  publicationMarker,
  type DropCdcResourcesOptions,
  type DroppedCdcResources,
  type InactiveSlotWarning,
  type SlotInfo,
  type SlotSource,
} from './slots.js';
export type { IncrementalSnapshotStatus } from './incremental-snapshot.js';
export { DEFAULT_SIGNAL_TABLE, requestIncrementalSnapshot } from './signals.js';
export {
  isChangeEventValue,
  isTombstone,
  type ChangeEventValue,
  type ChangeRecord,
  type HeartbeatValue,
  type Op,
  type SnapshotMarker,
  type SourceInfo,
  type TransactionEventValue,
  type TransactionInfo,
} from './events/envelope.js';
export {
  ConnectSchemaError,
  HEARTBEAT_SCHEMAS,
  isConnectJson,
  SOURCE_SCHEMA,
  TRANSACTION_SCHEMAS,
  withoutConnectSchemas,
  type ConnectJson,
  type ConnectJsonValue,
  type ConnectSchema,
  type TableConnectSchemas,
} from './events/connect-schema.js';
export { ORIGIN_HEADER, recordOrigin } from './events/origin.js';
export { stringifyJson, type JsonObject, type JsonValue } from './events/json.js';
export { UNAVAILABLE_VALUE } from './events/table-schema.js';
export { DEFAULT_TYPE_OPTIONS, type TypeOptions } from './events/type-mapping.js';
export { formatLsn, parseLsn, type Lsn } from './replication/lsn.js';
export { createEmbeddedSink, type EmbeddedSink, type RecordHandler } from './sinks/embedded.js';
export { createKafkaSink, KafkaSinkError, type KafkaSinkOptions } from './sinks/kafka.js';
export type { Sink, SinkKind } from './sinks/sink.js';
export { createStdoutSink } from './sinks/stdout.js';
export type { ConnectorState, ConnectorStatus } from './stats.js';
export {
  createCdcMetrics,
  startConnectorWithStatus,
  startStatusServer,
  type StatusServer,
} from './status-server.js';
