/**
 * Shadow mode: the service answers the same requests as the monolith, its responses are compared
 * with the monolith's, and the results are kept for the dashboard. The client only ever sees the
 * monolith's answer.
 */
export {
  compareResponses,
  decodeBody,
  formatJsonPath,
  normalizeMediaType,
  parseIgnoreRule,
  MAX_DIFFERENCES,
  type BodySummary,
  type CapturedResponse,
  type CompareOptions,
  type Comparison,
  type Difference,
  type IgnoreRule,
} from './compare.js';
export {
  createMismatchLog,
  REDACTED_HEADERS,
  type LoggedResponse,
  type MirroredRequest,
  type Mismatch,
  type MismatchLog,
  type MismatchLogEvent,
  type MismatchLogOptions,
  type ShadowStats,
} from './mismatch-log.js';
