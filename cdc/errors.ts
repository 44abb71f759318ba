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
