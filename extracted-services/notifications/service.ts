import type express from 'express';
import type { Knex } from 'knex';
import {
  type ChangeRecord,
  createSilentLogger,
  type Logger,
  createCarriedState,
  type ApplyResult,
  type CarriedState,
  type TableMapping,
  inOrder,
} from '../../index.js';
import { createNotificationsApp } from './app.js';
import { NOTIFICATIONS_MAPPINGS, NOTIFICATIONS_SOURCE_TABLES } from './mappings.js';
import { migrationSource } from './migrations/index.js';
import {
  serializeNotification,
  type NotificationJson,
  type NotificationRow,
} from './notifications.js';
import { recordNotifications } from './reactions.js';

/** What {@link createNotificationsService} needs. */
export interface NotificationsServiceDeps {
  /** The service's own database (never the monolith's). */
  db: Knex;
  /** Default: silent. Each notification sent is logged at info as `notification sent`. */
  logger?: Logger;
  /** Name the applied position is recorded under in `carried_progress`; default `notifications`. */
  consumer?: string;
}

/** What one `handle` did: the carried-state counts and the notifications it sent. */
export interface NotificationsBatchResult extends ApplyResult {
  /** Notifications recorded by this batch, in the order they were sent. */
  readonly sent: readonly NotificationJson[];
}

/** The notifications service: HTTP app, the carried copy it reacts to, and its inputs. */
export interface NotificationsService {
  readonly name: 'notifications';
  readonly app: express.Express;
  readonly carried: CarriedState;
  readonly mappings: readonly TableMapping[];
  /** `schema.table` of every source table a connector feeding this service must include. */
  readonly sourceTables: readonly string[];
  /**
   * Applies a batch of CDC records (any tables; only the carried ones are used) and sends the
   * notifications its changes call for. Batches are applied one after another in call order, so
   * a sink may call this without awaiting. A batch that fails leaves no trace: no carried row, no
   * notification, no progress, no log line; delivering it again is safe.
   */
  handle(records: readonly ChangeRecord[]): Promise<NotificationsBatchResult>;
  /** Creates or updates the local schema and the carried-state bookkeeping tables. */
  migrate(): Promise<void>;
}

/**
 * The notifications service: carries the monolith's `members`, `orders` and `payments`, and
 * "sends" (records in its `notifications` table) an `order-placed` notification when an order is
 * created and an `order-paid` one when its payment is captured, exactly once per order each, even
 * when batches are delivered twice, replayed or cut short by a crash. The notification commits in
 * the same transaction as the carried rows and the consumer's progress (carried-state
 * `onApplied`); the `notification sent` log line follows the commit. Orders that already existed
 * when the service started (snapshot reads) are not notified. The caller wires the record source
 * (an embedded CDC sink, a Kafka consumer) to `handle`.
 */
export function createNotificationsService(deps: NotificationsServiceDeps): NotificationsService {
  const { db } = deps;
  const logger = (deps.logger ?? createSilentLogger()).child({ service: 'notifications' });
  const consumer = deps.consumer ?? 'notifications';
  const carried = createCarriedState({ db, mappings: NOTIFICATIONS_MAPPINGS, logger });

  async function applyAndNotify(
    records: readonly ChangeRecord[],
  ): Promise<NotificationsBatchResult> {
    let recorded: NotificationRow[] = [];
    const result = await carried.apply(records, {
      consumer,
      onApplied: async (trx, changes) => {
        recorded = await recordNotifications(trx, changes);
      },
    });
    const sent = recorded.map(serializeNotification);
    for (const notification of sent)
      logger.info(
        {
          notificationId: notification.id,
          kind: notification.kind,
          orderId: notification.orderId,
          memberId: notification.memberId,
          recipient: notification.recipient,
          message: notification.message,
        },
        'notification sent',
      );
    return { ...result, sent };
  }

  const handle = inOrder((records: readonly ChangeRecord[]): Promise<NotificationsBatchResult> =>
    applyAndNotify(records),
  );

  async function migrate(): Promise<void> {
    await db.migrate.latest({ migrationSource });
    await carried.migrate();
  }

  return {
    name: 'notifications',
    app: createNotificationsApp({ db, logger }),
    carried,
    mappings: NOTIFICATIONS_MAPPINGS,
    sourceTables: NOTIFICATIONS_SOURCE_TABLES,
    handle,
    migrate,
  };
}
