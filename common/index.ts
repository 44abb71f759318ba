export {
  FicusError,
  ConfigError,
  isFicusError,
  toErrorResponse,
  type ErrorBody,
} from './errors.js';
export { createLogger, createSilentLogger, type Logger } from './logger.js';
export { ficusVersion, packageRoot } from './version.js';
export { findFreePort, isPortInUse } from './net.js';
export {
  startEmbeddedPostgres,
  reachableDataDir,
  EmbeddedPostgresError,
  LOGICAL_REPLICATION_SETTINGS,
  THROWAWAY_SETTINGS,
  type EmbeddedPostgresOptions,
  type RunningPostgres,
} from './embedded-postgres.js';
