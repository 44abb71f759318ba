import { FicusError } from '../common/index.js';

/**
 * The source database is not set up for CDC, or the connector cannot use it. The message is one
 * line that says what is wrong and the exact change that fixes it.
 */
export class CdcSetupError extends FicusError {
  constructor(code: string, message: string, cause?: unknown) {
    super(code, message, { cause });
  }
}

/**
 * `ficus cdc drop-slot` (dropCdcResources) refused, and dropped nothing: the slot is active, does
 * not exist, lives on another database, or is not ficus's. The message says what to do instead.
 */
export class CdcSlotError extends FicusError {
  readonly slot: string;

  constructor(code: string, slot: string, message: string, cause?: unknown) {
    super(code, message, { cause });
    this.slot = slot;
  }
}
