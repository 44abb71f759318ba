/**
 * Who wrote a review row, and how the two directions of the flow tell their own changes apart.
 *
 *   monolith ──CDC──▶ handle() ──carried-state──▶ service `reviews` (written_by = 'monolith')
 *      ▲                 │ skips records whose `ficus.origin` header is the write-back's origin
 *      │                 ▼
 *   write-back ◀──CDC── service `reviews` ◀── HTTP handlers (written_by = 'service')
 *   (session origin       only rows with written_by = 'service' flow back
 *    `ficus_reviews`)
 *
 * - A row the service carried from the monolith is marked `written_by = 'monolith'` by the mapping,
 *   so the write-back leaves it alone: nothing the service only copied is echoed back.
 * - A row the service wrote itself is `written_by = 'service'` (the column's default), so it flows
 *   back into the monolith, in a transaction stamped with the replication origin.
 * - The monolith's CDC marks the changes of such transactions with `ficus.origin`, so `handle`
 *   drops them: they are the service's own writes coming back, possibly older than the local row.
 */
/** `written_by` of a row the service wrote through its own API: it flows back. */
export const WRITTEN_BY_SERVICE = 'service';
/** `written_by` of a row carried from the monolith: it never flows back. */
export const WRITTEN_BY_MONOLITH = 'monolith';

/** Replication origin the write-back stamps on its transactions in the monolith. */
export const DEFAULT_WRITE_BACK_ORIGIN = 'ficus_reviews';

/**
 * Review ids the service hands out: above anything the monolith's `serial` sequence reaches while
 * both take writes, and within Postgres `integer`, the type of `reviews.id` in the monolith.
 */
export const SERVICE_REVIEW_IDS = Object.freeze({ first: 1_000_000_000, last: 2_147_483_647 });
