import type { Knex } from 'knex';

/**
 * Notifications due for a member the service has not carried yet: with Kafka, each table is its
 * own topic, so an order can arrive before the member who placed it. The notification waits here
 * (at most one per kind and order) and is sent when the member arrives.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('notifications_waiting', (t) => {
    t.text('kind').notNullable();
    t.integer('order_id').notNullable();
    t.integer('member_id').notNullable();
    t.text('amount').notNullable();
    t.primary(['kind', 'order_id']);
    t.index(['member_id'], 'notifications_waiting_member_id_idx');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('notifications_waiting');
}
