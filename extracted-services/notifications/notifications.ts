import { Router } from 'express';
import type { Knex } from 'knex';
import { NotFoundError } from './errors.js';
import { DEFAULT_LIMIT, idParams, listQuery, parseInput } from './validation.js';

/** The table the service records every notification it sends in. */
export const NOTIFICATIONS_TABLE = 'notifications';

/** What a notification is about: an order appeared, or its payment was captured. */
export type NotificationKind = 'order-placed' | 'order-paid';

/** A row of the `notifications` table. */
export interface NotificationRow {
  id: number;
  kind: NotificationKind;
  order_id: number;
  member_id: number;
  recipient: string | null;
  message: string;
  created_at: Date;
}

/** A notification as the API renders it (keys in this order). */
export interface NotificationJson {
  id: number;
  kind: NotificationKind;
  orderId: number;
  memberId: number;
  /** The member's email address; null when the member was not (yet) in the carried copy. */
  recipient: string | null;
  message: string;
  createdAt: string;
}

export function serializeNotification(row: NotificationRow): NotificationJson {
  return {
    id: row.id,
    kind: row.kind,
    orderId: row.order_id,
    memberId: row.member_id,
    recipient: row.recipient,
    message: row.message,
    createdAt: row.created_at.toISOString(),
  };
}

/**
 * `GET /notifications?member_id=&limit=` (newest first, `{ "items": [...] }`) and
 * `GET /notifications/:id`.
 */
export function createNotificationsRouter(deps: { db: Knex }): Router {
  const { db } = deps;
  const router = Router();

  router.get('/notifications', async (req, res) => {
    const query = parseInput(listQuery, req.query, 'query');
    let rows = db(NOTIFICATIONS_TABLE);
    if (query.member_id !== undefined) rows = rows.where('member_id', query.member_id);
    const items = await rows
      .orderBy('id', 'desc')
      .limit(query.limit ?? DEFAULT_LIMIT)
      .select<NotificationRow[]>('*');
    res.json({ items: items.map(serializeNotification) });
  });

  router.get('/notifications/:id', async (req, res) => {
    const { id } = parseInput(idParams, req.params, 'path');
    const row = await db(NOTIFICATIONS_TABLE).where({ id }).first<NotificationRow | undefined>();
    if (!row) throw new NotFoundError(`notification ${id} not found`);
    res.json(serializeNotification(row));
  });

  return router;
}
