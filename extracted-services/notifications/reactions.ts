/**
 * Which carried changes send which notification. Runs inside the carried-state batch
 * transaction (`onApplied`), so a notification is recorded together with the rows and the
 * consumer progress that caused it, or not at all.
 *
 * - `order-placed`: an order row created in the stream (`op` `c`) that is not `cancelled`.
 * - `order-paid`: a payment row created in the stream with status `captured`. The monolith's
 *   checkout inserts the payment and sets the order to `paid` in one transaction; the payment is
 *   the fact that happens once per order (`payments.order_id` is unique). An `orders` update to
 *   `paid` is not used: the monolith's tables have REPLICA IDENTITY DEFAULT, so an update event
 *   carries no `before` and cannot tell "became paid" from "was already paid".
 * - Changes committed before the service's database was created (`notify_since`) never notify:
 *   a service added to a running system and fed a topic's history stays quiet about the past.
 * - Snapshot reads (`r`) never notify: they are rows that existed before the service started, and
 *   their customers were told (or not) by whatever ran then. Updates, deletes and the create half
 *   of a primary-key change (header `__debezium.oldkey`) never notify either.
 *
 * Changes the carried-state helper skips (duplicates, replays, late snapshot reads) never get
 * here; the unique key on `(kind, order_id)` holds even if a source re-creates a row (a payment
 * deleted and inserted again), so an order is told of each step at most once.
 */
import type { Knex } from 'knex';
import type { AppliedChange, LocalRow } from '../../index.js';
import { MEMBERS_TABLE, ORDERS_TABLE, PAYMENTS_TABLE } from './mappings.js';
import {
  NOTIFICATIONS_TABLE,
  type NotificationKind,
  type NotificationRow,
} from './notifications.js';

/** Notifications due for a member not carried yet. */
const WAITING_TABLE = 'notifications_waiting';

/** A notification some change calls for, before it is addressed and recorded. */
interface Due {
  readonly kind: NotificationKind;
  readonly orderId: number;
  readonly memberId: number;
  readonly amount: string;
}

/**
 * Records the notifications `changes` call for, in change order, and returns the rows it
 * inserted (those not already recorded). The caller announces them once the transaction commits.
 */
export async function recordNotifications(
  trx: Knex.Transaction,
  changes: readonly AppliedChange[],
): Promise<NotificationRow[]> {
  const sent: NotificationRow[] = [];
  const horizon = await trx('notify_since').first<{ since: Date } | undefined>('since');
  const since = horizon?.since.getTime() ?? 0;
  for (const change of changes) {
    // Committed before the service existed: history, already told (or not) by whatever ran then.
    if (change.event.source.ts_ms < since) continue;
    const due = dueNotification(change);
    if (due) await send(trx, due, sent);
  }
  // Members who arrived in this batch: what waited for them goes out now.
  const arrived = changes
    .filter((c) => c.table === MEMBERS_TABLE && c.row !== null)
    .map((c) => c.row!['id'])
    .filter(isId);
  if (arrived.length > 0) {
    const waiting = await trx(WAITING_TABLE)
      .whereIn('member_id', arrived)
      .orderBy(['order_id', 'kind'])
      .select<{ kind: NotificationKind; order_id: number; member_id: number; amount: string }[]>(
        'kind',
        'order_id',
        'member_id',
        'amount',
      );
    for (const row of waiting) {
      await send(
        trx,
        { kind: row.kind, orderId: row.order_id, memberId: row.member_id, amount: row.amount },
        sent,
      );
      await trx(WAITING_TABLE).where({ kind: row.kind, order_id: row.order_id }).del();
    }
  }
  return sent;
}

/**
 * Records `due` for its member, or, when the member is not carried yet, keeps it waiting for them
 * (a notification without a recipient would be sent to no one, and never again).
 */
async function send(trx: Knex.Transaction, due: Due, sent: NotificationRow[]): Promise<void> {
  const member = await trx(MEMBERS_TABLE)
    .where({ id: due.memberId })
    .first<{ email: string; name: string } | undefined>('email', 'name');
  if (!member) {
    await trx(WAITING_TABLE)
      .insert({
        kind: due.kind,
        order_id: due.orderId,
        member_id: due.memberId,
        amount: due.amount,
      })
      .onConflict(['kind', 'order_id'])
      .ignore();
    return;
  }
  const [row] = await trx(NOTIFICATIONS_TABLE)
    .insert({
      kind: due.kind,
      order_id: due.orderId,
      member_id: due.memberId,
      recipient: member.email,
      message: compose(due, member.name),
    })
    .onConflict(['kind', 'order_id'])
    .ignore()
    .returning<NotificationRow[]>('*');
  if (row) sent.push(row);
}

function dueNotification(change: AppliedChange): Due | null {
  const { row } = change;
  if (change.op !== 'c' || row === null) return null;
  if (change.record.headers?.['__debezium.oldkey'] !== undefined) return null;
  if (change.table === ORDERS_TABLE && row['status'] !== 'cancelled')
    return due('order-placed', row, row['id'], row['total']);
  if (change.table === PAYMENTS_TABLE && row['status'] === 'captured')
    return due('order-paid', row, row['order_id'], row['amount']);
  return null;
}

function due(kind: NotificationKind, row: LocalRow, orderId: unknown, amount: unknown): Due | null {
  const memberId = row['member_id'];
  if (!isId(orderId) || !isId(memberId) || typeof amount !== 'string') return null;
  return { kind, orderId, memberId, amount };
}

function isId(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value);
}

function compose(due: Due, name: string): string {
  const greeting = `Hi ${name}`;
  switch (due.kind) {
    case 'order-placed':
      return `${greeting}, we have received your order #${due.orderId} (total ${due.amount}).`;
    case 'order-paid':
      return `${greeting}, your payment of ${due.amount} for order #${due.orderId} has been captured.`;
  }
}
