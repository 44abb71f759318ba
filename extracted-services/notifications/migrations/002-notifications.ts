import type { Knex } from 'knex';

/**
 * The notifications the service has sent, one row per message. The unique key on
 * `(kind, order_id)` makes "the same notification twice" impossible to record, whatever reaches
 * the service; sending is inserting a row.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('notifications', (t) => {
    t.increments('id').primary();
    t.text('kind')
      .notNullable()
      .checkIn(['order-placed', 'order-paid'], 'notifications_kind_known');
    t.integer('order_id').notNullable();
    t.integer('member_id').notNullable();
    t.text('recipient');
    t.text('message').notNullable();
    t.timestamp('created_at', { useTz: true, precision: 3 })
      .notNullable()
      .defaultTo(knex.fn.now(3));
    t.unique(['kind', 'order_id'], { indexName: 'notifications_kind_order_id_key' });
    t.index(['member_id', 'id'], 'notifications_member_id_id_idx');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('notifications');
}
