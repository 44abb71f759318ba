import type { Knex } from 'knex';
import { SERVICE_REVIEW_IDS, WRITTEN_BY_MONOLITH, WRITTEN_BY_SERVICE } from '../ownership.js';

/**
 * The carried `products` (ids) and `members` (ids, names), and `reviews`: carried rows plus the
 * reviews the service writes itself. No foreign keys: CDC applies one row at a time, so a review
 * may arrive before its member.
 *
 * Ids of new reviews come from a sequence of their own that starts where the monolith's `serial`
 * never gets to, so the two never hand out the same id while both take writes. `REPLICA IDENTITY
 * FULL` puts `written_by` into the `before` of a delete, so the write-back can tell a carried
 * delete from one of the service's own.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('products', (t) => {
    t.integer('id').primary();
  });

  await knex.schema.createTable('members', (t) => {
    t.integer('id').primary();
    t.text('name').notNullable();
  });

  await knex.raw(
    `CREATE SEQUENCE service_review_ids AS integer
       START WITH ${SERVICE_REVIEW_IDS.first}
       MINVALUE ${SERVICE_REVIEW_IDS.first}
       MAXVALUE ${SERVICE_REVIEW_IDS.last}`,
  );
  await knex.schema.createTable('reviews', (t) => {
    t.integer('id').primary().defaultTo(knex.raw("nextval('service_review_ids')"));
    t.integer('product_id').notNullable();
    t.integer('member_id').notNullable();
    t.integer('rating').notNullable();
    t.text('title').notNullable();
    t.text('body').notNullable();
    t.timestamp('created_at', { useTz: true, precision: 3 })
      .notNullable()
      .defaultTo(knex.fn.now(3));
    t.text('written_by').notNullable().defaultTo(WRITTEN_BY_SERVICE);
    t.check(
      `written_by in ('${WRITTEN_BY_SERVICE}', '${WRITTEN_BY_MONOLITH}')`,
      {},
      'reviews_written_by',
    );
    t.index(['product_id', 'created_at', 'id'], 'reviews_product_id_created_at_idx');
  });
  await knex.raw('ALTER SEQUENCE service_review_ids OWNED BY reviews.id');
  await knex.raw('ALTER TABLE reviews REPLICA IDENTITY FULL');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('reviews');
  await knex.schema.dropTable('members');
  await knex.schema.dropTable('products');
}
