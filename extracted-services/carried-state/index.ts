/**
 * The carried-state helper: keeps a service's local copy of monolith tables from CDC change
 * records, idempotently and in source order. Services import it from here.
 */
export {
  createCarriedState,
  POSITIONS_TABLE,
  PROGRESS_TABLE,
  type AppliedChange,
  type ApplyOptions,
  type ApplyResult,
  type CarriedLag,
  type CarriedState,
  type CarriedStateOptions,
  type OnApplied,
} from './apply.js';
export {
  compileMapping,
  type CompiledMapping,
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
