import type { Knex } from 'knex';

/**
 * The carried copies of the monolith's `members`, `orders` and `payments`, with only the columns
 * the notifications need. No unique or foreign-key constraints: the monolith enforces them, and
 * CDC applies one row at a time, so a payment that arrives before its order must not fail a batch.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('members', (t) => {
    t.integer('id').primary();
    t.text('email').notNullable();
    t.text('name').notNullable();
  });

  await knex.schema.createTable('orders', (t) => {
    t.integer('id').primary();
    t.integer('member_id').notNullable();
    t.text('status').notNullable();
    t.decimal('total', 12, 2).notNullable();
    t.timestamp('created_at', { useTz: true, precision: 3 }).notNullable();
    t.timestamp('updated_at', { useTz: true, precision: 3 }).notNullable();
  });

  await knex.schema.createTable('payments', (t) => {
    t.integer('id').primary();
    t.integer('order_id').notNullable();
    t.integer('member_id').notNullable();
    t.decimal('amount', 12, 2).notNullable();
    t.text('status').notNullable();
    t.timestamp('created_at', { useTz: true, precision: 3 }).notNullable();
    t.index(['order_id'], 'payments_order_id_idx');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('payments');
  await knex.schema.dropTable('orders');
  await knex.schema.dropTable('members');
}
