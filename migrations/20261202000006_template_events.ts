import type { Knex } from 'knex';

// Meta's template webhooks (message_template_status_update, template_category_update,
// message_template_quality_update), each event kept once, and per template the latest status,
// category and quality they report: the ground a template catalogue and business-initiated sends
// stand on. And a customer's marketing-message preference (user_preferences: stop or resume).
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('template_events', (t) => {
    t.bigIncrements('id').primary();
    t.text('waba_id').notNullable();
    // Meta's message_template_id (an integer in the webhook), kept as its digits.
    t.text('message_template_id').notNullable();
    t.text('name');
    t.text('language');
    t.text('field').notNullable();
    // message_template_status_update's `event` (APPROVED, REJECTED, PAUSED, ...); null for the other fields.
    t.text('event');
    t.text('reason');
    t.text('category');
    t.text('previous_category');
    t.text('new_category');
    t.text('correct_category');
    t.timestamp('category_update_at', { useTz: true });
    t.text('previous_quality_score');
    t.text('new_quality_score');
    t.jsonb('other_info');
    t.jsonb('rejection_info');
    t.timestamp('disable_date', { useTz: true });
    // The webhook's entry.time: when Meta says the change happened.
    t.timestamp('occurred_at', { useTz: true });
    // A hash of entry.time and the value: Meta sends no event id, and a redelivery repeats both.
    t.text('event_key').notNullable();
    t.jsonb('value').notNullable();
    t.timestamp('received_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['waba_id', 'message_template_id', 'field', 'event_key'], { indexName: 'template_events_event_key' });
    t.index(['waba_id', 'message_template_id', 'received_at'], 'idx_template_events_template');
    t.index(['received_at'], 'idx_template_events_received');
  });
  await knex.raw(`ALTER TABLE template_events ADD CONSTRAINT template_events_field_check
    CHECK (field IN ('message_template_status_update', 'template_category_update', 'message_template_quality_update'))`);

  await knex.schema.createTable('message_templates', (t) => {
    t.bigIncrements('id').primary();
    t.text('waba_id').notNullable();
    t.text('message_template_id').notNullable();
    t.text('name');
    t.text('language');
    // The template's status as the last status event left it; `last_event` is that event as sent
    // (FLAGGED or LOCKED leave the status as it was).
    t.text('status');
    t.text('status_reason');
    t.text('last_event');
    t.timestamp('status_at', { useTz: true });
    t.text('category');
    // Meta announced a recategorisation: the category it will have, and when.
    t.text('pending_category');
    t.timestamp('pending_category_at', { useTz: true });
    t.timestamp('category_at', { useTz: true });
    t.text('quality_score');
    t.timestamp('quality_at', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['waba_id', 'message_template_id'], { indexName: 'message_templates_waba_template_key' });
  });

  await knex.schema.alterTable('customers', (t) => {
    t.text('marketing_preference');
    // Meta's timestamp of the preference change: an older one never overwrites a newer one.
    t.timestamp('marketing_preference_at', { useTz: true });
    // The business number the customer stopped or resumed marketing messages on.
    t.text('marketing_preference_phone_number_id');
  });
  await knex.raw(`ALTER TABLE customers ADD CONSTRAINT customers_marketing_preference_check
    CHECK (marketing_preference IN ('stopped', 'resumed'))`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE customers DROP CONSTRAINT customers_marketing_preference_check');
  await knex.schema.alterTable('customers', (t) => {
    t.dropColumn('marketing_preference_phone_number_id');
    t.dropColumn('marketing_preference_at');
    t.dropColumn('marketing_preference');
  });
  await knex.schema.dropTable('message_templates');
  await knex.schema.dropTable('template_events');
}
