/** The monolith's tables, as `schema.table`: what CDC captures (knex's own bookkeeping tables left out). */
export const LEGACY_TABLES: readonly string[] = Object.freeze([
  'public.categories',
  'public.products',
  'public.members',
  'public.orders',
  'public.order_items',
  'public.payments',
  'public.reviews',
  'public.wishlist_items',
]);
