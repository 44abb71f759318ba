import type { TableMapping } from '../../index.js';

/** Local table names of the carried copies. */
export const MEMBERS_TABLE = 'members';
export const ORDERS_TABLE = 'orders';
export const PAYMENTS_TABLE = 'payments';

/**
 * The monolith tables the notifications service carries (source `public.*`, same names locally):
 * orders and payments are what it reacts to, members give the recipient's address and name.
 * Only the columns it uses are kept (a member's balance, which every order changes, is dropped).
 * `numeric` arrives as a decimal string and `timestamptz` as an ISO string (cdc/README.md,
 * "Types"), the shapes the local columns take as they are, so no converters.
 */
export const NOTIFICATIONS_MAPPINGS: readonly TableMapping[] = Object.freeze([
  {
    source: 'public.members',
    table: MEMBERS_TABLE,
    key: ['id'],
    columns: ['id', 'email', 'name'],
  },
  {
    source: 'public.orders',
    table: ORDERS_TABLE,
    key: ['id'],
    columns: ['id', 'member_id', 'status', 'total', 'created_at', 'updated_at'],
  },
  {
    source: 'public.payments',
    table: PAYMENTS_TABLE,
    key: ['id'],
    columns: ['id', 'order_id', 'member_id', 'amount', 'status', 'created_at'],
  },
]);

/** The source tables a connector feeding the notifications service must include. */
export const NOTIFICATIONS_SOURCE_TABLES: readonly string[] = Object.freeze(
  NOTIFICATIONS_MAPPINGS.map((mapping) => mapping.source),
);
