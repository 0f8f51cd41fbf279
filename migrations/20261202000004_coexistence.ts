import type { Knex } from 'knex';

// Numbers that stay on the WhatsApp Business app (coexistence): when the Cloud API side was
// offboarded, the state of the two one-time syncs Meta offers within 24 hours of onboarding
// (contacts and chat history), where each message came from (the Cloud API, the owner's app, the
// history import), and the name the owner saved for a contact in the app.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('whatsapp_phone_numbers', (t) => {
    t.timestamp('coexistence_offboarded_at', { useTz: true });
  });
  await knex.schema.createTable('business_app_syncs', (t) => {
    t.bigIncrements('id').primary();
    t.uuid('phone_number_row_id').notNullable().references('id').inTable('whatsapp_phone_numbers').onDelete('CASCADE');
    // Meta's sync_type: smb_app_state_sync (contacts) or history.
    t.text('sync_type').notNullable();
    t.text('state').notNullable().defaultTo('pending');
    t.timestamp('deadline_at', { useTz: true }).notNullable();
    t.text('request_id');
    t.integer('attempts').notNullable().defaultTo(0);
    t.text('last_error');
    t.timestamp('requested_at', { useTz: true });
    // History only: Meta's overall progress (0-100) and the last phase reported.
    t.integer('progress');
    t.integer('phase');
    t.timestamp('last_received_at', { useTz: true });
    t.timestamp('completed_at', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['phone_number_row_id', 'sync_type'], { indexName: 'business_app_syncs_number_type_key' });
  });
  await knex.raw(
    `ALTER TABLE business_app_syncs ADD CONSTRAINT business_app_syncs_type_check CHECK (sync_type IN ('smb_app_state_sync', 'history'))`,
  );
  await knex.raw(
    `ALTER TABLE business_app_syncs ADD CONSTRAINT business_app_syncs_state_check
     CHECK (state IN ('pending', 'requested', 'receiving', 'completed', 'declined', 'failed', 'expired'))`,
  );
  await knex.schema.alterTable('messages', (t) => {
    // Every row before this one came through the Cloud API (a customer's webhook or our send).
    t.text('origin').notNullable().defaultTo('cloud_api');
  });
  await knex.raw(
    `ALTER TABLE messages ADD CONSTRAINT messages_origin_check CHECK (origin IN ('cloud_api', 'business_app', 'history'))`,
  );
  await knex.schema.alterTable('customers', (t) => {
    t.text('contact_name');
  });
  await knex.schema.alterTable('signup_events', (t) => {
    t.text('phone_number_id');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('signup_events', (t) => {
    t.dropColumn('phone_number_id');
  });
  await knex.schema.alterTable('customers', (t) => {
    t.dropColumn('contact_name');
  });
  await knex.raw('ALTER TABLE messages DROP CONSTRAINT messages_origin_check');
  await knex.schema.alterTable('messages', (t) => {
    t.dropColumn('origin');
  });
  await knex.schema.dropTable('business_app_syncs');
  await knex.schema.alterTable('whatsapp_phone_numbers', (t) => {
    t.dropColumn('coexistence_offboarded_at');
  });
}
