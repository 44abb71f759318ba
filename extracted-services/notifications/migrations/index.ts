import { staticMigrationSource, type NamedMigration } from '../../../index.js';
import * as carriedOrders from './001-carried-orders.js';
import * as notifications from './002-notifications.js';
import * as notifySince from './003-notify-since.js';
import * as waiting from './004-notifications-waiting.js';

/**
 * Every migration of the notifications service's own database, oldest first. Static, so the
 * recorded names do not depend on running from TypeScript sources or from `dist/`. Append; never
 * edit a shipped one.
 */
export const MIGRATIONS: readonly NamedMigration[] = Object.freeze([
  { name: '001-carried-orders', migration: carriedOrders },
  { name: '002-notifications', migration: notifications },
  { name: '003-notify-since', migration: notifySince },
  { name: '004-notifications-waiting', migration: waiting },
]);

/** The knex `migrationSource` that serves {@link MIGRATIONS}. */
export const migrationSource = staticMigrationSource(MIGRATIONS);
