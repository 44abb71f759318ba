import type { ServiceDefinition } from '../../index.js';
import { NOTIFICATIONS_SOURCE_TABLES } from './mappings.js';
import { createNotificationsService } from './service.js';

/** Default port of the notifications service. */
export const DEFAULT_NOTIFICATIONS_PORT = 3103;

/** How `ficus service notifications` and the demo run the notifications service. */
export const NOTIFICATIONS_DEFINITION: ServiceDefinition = Object.freeze({
  name: 'notifications',
  summary: 'tells members about orders placed and paid, once per order',
  defaultPort: DEFAULT_NOTIFICATIONS_PORT,
  sourceTables: NOTIFICATIONS_SOURCE_TABLES,
  create: createNotificationsService,
});
