import type { Knex } from 'knex';

// The pacer's state: one row per business number, holding the time its bucket of send slots is
// empty again (the "theoretical arrival time" of a token bucket kept as one timestamp). Every
// worker reserves slots here with one statement on PostgreSQL's clock, so they all agree.
// `recipient` is '' for the number's own bucket; a pair rate (one business number, one customer)
// can keep its rows in the same table under the customer's key.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('send_pacing', (t) => {
    t.text('phone_number_id').notNullable();
    t.text('recipient').notNullable().defaultTo('');
    t.timestamp('next_slot_at', { useTz: true }).notNullable();
    t.primary(['phone_number_id', 'recipient'], { constraintName: 'send_pacing_pkey' });
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('send_pacing');
}
