import type { Knex } from 'knex';

/**
 * The notification horizon: changes committed in the monolith before this moment never notify.
 * Set once, when the service's database is created, so a service added to a running system and
 * fed the history of a topic does not message every past customer again.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('notify_since', (t) => {
    t.boolean('singleton').primary().defaultTo(true);
    t.timestamp('since', { useTz: true, precision: 3 }).notNullable().defaultTo(knex.fn.now(3));
  });
  await knex.raw('ALTER TABLE notify_since ADD CONSTRAINT notify_since_one_row CHECK (singleton)');
  await knex('notify_since').insert({});
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('notify_since');
}
