/**
 * The notifications service: reacts to orders placed and paid in the monolith, carried over CDC,
 * with a side effect that happens once per order even when events are delivered twice. Other
 * components import it only through this file.
 */
export {
  createNotificationsService,
  type NotificationsBatchResult,
  type NotificationsService,
  type NotificationsServiceDeps,
} from './service.js';
export { NOTIFICATIONS_MAPPINGS, NOTIFICATIONS_SOURCE_TABLES } from './mappings.js';
export {
  NOTIFICATIONS_TABLE,
  type NotificationJson,
  type NotificationKind,
} from './notifications.js';
export { DEFAULT_NOTIFICATIONS_PORT, NOTIFICATIONS_DEFINITION } from './definition.js';
