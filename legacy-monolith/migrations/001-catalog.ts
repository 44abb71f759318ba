import type { Knex } from 'knex';

/** Categories and the products in them. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('categories', (t) => {
    t.increments('id').primary();
    t.text('slug').notNullable().unique();
    t.text('name').notNullable();
  });

  await knex.schema.createTable('products', (t) => {
    t.increments('id').primary();
    t.text('sku').notNullable().unique();
    t.text('name').notNullable();
    t.text('description').notNullable();
    t.integer('category_id').notNullable().references('id').inTable('categories');
    t.decimal('price', 10, 2).notNullable();
    t.integer('stock').notNullable();
    t.timestamp('created_at', { useTz: true, precision: 3 })
      .notNullable()
      .defaultTo(knex.fn.now(3));
    t.timestamp('updated_at', { useTz: true, precision: 3 })
      .notNullable()
      .defaultTo(knex.fn.now(3));
    t.check('price >= 0', {}, 'products_price_non_negative');
    t.check('stock >= 0', {}, 'products_stock_non_negative');
    t.index(['category_id'], 'products_category_id_idx');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('products');
  await knex.schema.dropTable('categories');
}
