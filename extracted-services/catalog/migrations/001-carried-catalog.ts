import type { Knex } from 'knex';

/**
 * The carried copies of the monolith's `categories`, `products` and `reviews`, with only the
 * columns the catalog serves. No unique or foreign-key constraints: the monolith enforces them,
 * and CDC applies one row at a time, so a slug swap or a review that arrives before its product
 * must not fail a batch.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('categories', (t) => {
    t.integer('id').primary();
    t.text('slug').notNullable();
    t.text('name').notNullable();
    t.index(['slug'], 'categories_slug_idx');
  });

  await knex.schema.createTable('products', (t) => {
    t.integer('id').primary();
    t.text('sku').notNullable();
    t.text('name').notNullable();
    t.text('description').notNullable();
    t.integer('category_id').notNullable();
    t.decimal('price', 10, 2).notNullable();
    t.integer('stock').notNullable();
    t.timestamp('created_at', { useTz: true, precision: 3 }).notNullable();
    t.timestamp('updated_at', { useTz: true, precision: 3 }).notNullable();
    t.index(['category_id', 'id'], 'products_category_id_idx');
  });

  // Only what the rating summary needs; title, body and author stay in the monolith.
  await knex.schema.createTable('reviews', (t) => {
    t.integer('id').primary();
    t.integer('product_id').notNullable();
    t.integer('rating').notNullable();
    t.index(['product_id'], 'reviews_product_id_idx');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('reviews');
  await knex.schema.dropTable('products');
  await knex.schema.dropTable('categories');
}
