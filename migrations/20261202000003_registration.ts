import type { Knex } from 'knex';

// Cloud API registration per number: its state and last error, the business's two-step
// verification PIN (ciphertext), and our register calls, so we stay inside Meta's limit of ten
// per number in 72 hours. Attempts are counted by Meta's phone number id: the limit follows the
// number, whichever integration row holds it.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('whatsapp_phone_numbers', (t) => {
    // null: never evaluated (rows older than this migration); read through the decision table.
    t.text('registration_state');
    t.text('registration_error_code');
    t.text('registration_error_message');
    t.integer('registration_meta_code');
    t.text('registration_pin');
    // Meta answered 133016: no call before this time.
    t.timestamp('registration_blocked_until', { useTz: true });
    t.timestamp('registration_updated_at', { useTz: true });
  });
  await knex.schema.createTable('phone_number_registration_attempts', (t) => {
    t.bigIncrements('id').primary();
    t.text('phone_number_id').notNullable();
    t.timestamp('attempted_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.integer('meta_code');
    t.index(['phone_number_id', 'attempted_at'], 'idx_registration_attempts_number_time');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('phone_number_registration_attempts');
  await knex.schema.alterTable('whatsapp_phone_numbers', (t) => {
    t.dropColumn('registration_updated_at');
    t.dropColumn('registration_blocked_until');
    t.dropColumn('registration_pin');
    t.dropColumn('registration_meta_code');
    t.dropColumn('registration_error_message');
    t.dropColumn('registration_error_code');
    t.dropColumn('registration_state');
  });
}
