import type { Knex } from 'knex';

/** The products each member has put on their wishlist. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('wishlist_items', (t) => {
    t.integer('member_id').notNullable().references('id').inTable('members');
    t.integer('product_id').notNullable().references('id').inTable('products');
    t.timestamp('created_at', { useTz: true, precision: 3 })
      .notNullable()
      .defaultTo(knex.fn.now(3));
    t.primary(['member_id', 'product_id']);
    t.index(['product_id'], 'wishlist_items_product_id_idx');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('wishlist_items');
}
