/**
 * The carried-state helper: keeps a service's local copy of monolith tables from CDC change
 * records, idempotently and in source order. Services import it from here.
 */
export {
  createCarriedState,
  POSITIONS_TABLE,
  PROGRESS_TABLE,
  type ApplyOptions,
  type ApplyResult,
  type CarriedLag,
  type CarriedState,
  type CarriedStateOptions,
} from './apply.js';
export {
  compileMapping,
  isUnavailable,
  type ColumnConverter,
  type ColumnSpec,
  type LocalRow,
  type TableMapping,
} from './mapping.js';
export {
  comparePositions,
  decodePosition,
  encodePosition,
  ORIGIN,
  type Position,
} from './position.js';
