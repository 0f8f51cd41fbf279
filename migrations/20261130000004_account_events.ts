import type { Knex } from 'knex';

// Meta's account events (recorded once each), abandoned Embedded Signup sessions (for support),
// and the last quality event of a number.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('account_events', (t) => {
    t.bigIncrements('id').primary();
    // sha256 of field, addressee, time and value: the same event delivered twice has the same key.
    t.text('event_key').notNullable().unique('account_events_event_key_key');
    t.text('field').notNullable();
    t.text('waba_id').notNullable();
    t.text('event');
    t.jsonb('value').notNullable();
    t.jsonb('applied_to');
    t.timestamp('received_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['waba_id', 'received_at'], 'idx_account_events_waba_received');
  });

  await knex.schema.createTable('signup_events', (t) => {
    t.bigIncrements('id').primary();
    t.text('business_id').notNullable();
    t.text('event').notNullable();
    t.text('current_step');
    t.text('error_message');
    t.text('error_code');
    t.text('session_id');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['business_id', 'created_at'], 'idx_signup_events_business_created');
  });

  await knex.schema.alterTable('whatsapp_phone_numbers', (t) => {
    t.text('quality_event');
    t.timestamp('quality_event_at', { useTz: true });
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('whatsapp_phone_numbers', (t) => {
    t.dropColumn('quality_event');
    t.dropColumn('quality_event_at');
  });
  await knex.schema.dropTable('signup_events');
  await knex.schema.dropTable('account_events');
}
