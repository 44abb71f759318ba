import type { Knex } from 'knex';

/** Product reviews by members. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('reviews', (t) => {
    t.increments('id').primary();
    t.integer('product_id').notNullable().references('id').inTable('products');
    t.integer('member_id').notNullable().references('id').inTable('members');
    t.integer('rating').notNullable();
    t.text('title').notNullable();
    t.text('body').notNullable();
    t.timestamp('created_at', { useTz: true, precision: 3 })
      .notNullable()
      .defaultTo(knex.fn.now(3));
    t.check('rating between 1 and 5', {}, 'reviews_rating_range');
    t.index(['product_id', 'created_at', 'id'], 'reviews_product_id_created_at_idx');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('reviews');
}
