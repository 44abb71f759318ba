import type { Knex } from 'knex';

/** Members (customers) and the balance they pay orders from. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('members', (t) => {
    t.increments('id').primary();
    t.text('email').notNullable().unique();
    t.text('name').notNullable();
    t.decimal('balance', 12, 2).notNullable().defaultTo('0.00');
    t.timestamp('created_at', { useTz: true, precision: 3 })
      .notNullable()
      .defaultTo(knex.fn.now(3));
    t.timestamp('updated_at', { useTz: true, precision: 3 })
      .notNullable()
      .defaultTo(knex.fn.now(3));
    t.check('balance >= 0', {}, 'members_balance_non_negative');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('members');
}
