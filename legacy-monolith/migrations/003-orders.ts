import type { Knex } from 'knex';

/** Orders, their line items, and the payment that settles each one. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('orders', (t) => {
    t.increments('id').primary();
    t.integer('member_id').notNullable().references('id').inTable('members');
    t.text('status').notNullable().checkIn(['placed', 'paid', 'cancelled'], 'orders_status_known');
    t.decimal('total', 12, 2).notNullable();
    t.timestamp('created_at', { useTz: true, precision: 3 })
      .notNullable()
      .defaultTo(knex.fn.now(3));
    t.timestamp('updated_at', { useTz: true, precision: 3 })
      .notNullable()
      .defaultTo(knex.fn.now(3));
    t.check('total >= 0', {}, 'orders_total_non_negative');
    t.index(['member_id', 'created_at', 'id'], 'orders_member_id_created_at_idx');
  });

  await knex.schema.createTable('order_items', (t) => {
    t.increments('id').primary();
    t.integer('order_id').notNullable().references('id').inTable('orders');
    t.integer('product_id').notNullable().references('id').inTable('products');
    t.integer('quantity').notNullable();
    t.decimal('unit_price', 10, 2).notNullable();
    t.check('quantity > 0', {}, 'order_items_quantity_positive');
    t.unique(['order_id', 'product_id'], { indexName: 'order_items_order_id_product_id_key' });
    t.index(['product_id'], 'order_items_product_id_idx');
  });

  await knex.schema.createTable('payments', (t) => {
    t.increments('id').primary();
    t.integer('order_id').notNullable().unique().references('id').inTable('orders');
    t.integer('member_id').notNullable().references('id').inTable('members');
    t.decimal('amount', 12, 2).notNullable();
    t.text('method').notNullable().checkIn(['balance'], 'payments_method_known');
    t.text('status').notNullable().checkIn(['captured'], 'payments_status_known');
    t.timestamp('created_at', { useTz: true, precision: 3 })
      .notNullable()
      .defaultTo(knex.fn.now(3));
    t.check('amount >= 0', {}, 'payments_amount_non_negative');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('payments');
  await knex.schema.dropTable('order_items');
  await knex.schema.dropTable('orders');
}
