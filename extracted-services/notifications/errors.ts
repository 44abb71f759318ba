/**
 * The notifications service's errors: the runtime's, which use the monolith's codes and shapes, so a
 * refused request gets the same bytes the monolith would send.
 */
export { ValidationError, NotFoundError } from '../../index.js';
