import type { Knex } from 'knex';

// What the connect flow needs: OAuth states (hashed), a staging area for secrets between
// activities, the connect attempts the status shows, and the integration's accounts and numbers.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('oauth_states', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    // sha256 of the state; the state itself is never stored.
    t.text('state_hash').notNullable().unique('oauth_states_state_hash_key');
    t.text('business_id').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.timestamp('used_at', { useTz: true });
    t.text('workflow_id');
    t.index(['expires_at'], 'idx_oauth_states_expires_at');
  });

  // Secrets waiting between activities (authorization code, tokens), so workflow inputs and
  // results carry only the connect id. Rows are deleted when the connect ends; purge_after bounds
  // how long a crashed connect's leftovers can stay.
  await knex.schema.createTable('token_staging', (t) => {
    t.text('connect_id').notNullable();
    t.text('kind').notNullable();
    t.text('ciphertext').notNullable();
    t.timestamp('token_expires_at', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('purge_after', { useTz: true }).notNullable();
    t.primary(['connect_id', 'kind'], { constraintName: 'token_staging_pkey' });
    t.index(['purge_after'], 'idx_token_staging_purge_after');
  });
  await knex.raw(`ALTER TABLE token_staging ADD CONSTRAINT token_staging_kind_check
    CHECK (kind IN ('code', 'user_token', 'long_lived_token'))`);

  await knex.schema.createTable('connect_attempts', (t) => {
    t.text('workflow_id').primary();
    t.text('business_id').notNullable();
    t.text('flow').notNullable();
    t.text('state').notNullable().defaultTo('running');
    t.text('error_code');
    t.text('error_message');
    t.uuid('integration_id');
    t.timestamp('started_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('finished_at', { useTz: true });
    t.index(['business_id', 'started_at'], 'idx_connect_attempts_business_started');
  });
  await knex.raw(`ALTER TABLE connect_attempts ADD CONSTRAINT connect_attempts_state_check
    CHECK (state IN ('running', 'succeeded', 'failed'))`);

  await knex.schema.createTable('whatsapp_business_accounts', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('integration_id').notNullable().references('id').inTable('channel_integrations').onDelete('CASCADE');
    t.text('waba_id').notNullable();
    t.text('name');
    t.text('currency');
    t.text('timezone_id');
    t.boolean('is_active').notNullable().defaultTo(true);
    t.timestamp('subscribed_at', { useTz: true });
    t.timestamp('subscription_checked_at', { useTz: true });
    t.text('subscription_state').notNullable().defaultTo('unknown');
    t.text('account_status').notNullable().defaultTo('ok');
    t.jsonb('account_status_detail');
    t.timestamp('account_status_at', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['integration_id', 'waba_id'], { indexName: 'whatsapp_business_accounts_integration_waba_key' });
    t.index(['waba_id'], 'idx_whatsapp_business_accounts_waba_id');
  });

  await knex.schema.createTable('whatsapp_phone_numbers', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('integration_id').notNullable().references('id').inTable('channel_integrations').onDelete('CASCADE');
    t.uuid('account_id').notNullable().references('id').inTable('whatsapp_business_accounts').onDelete('CASCADE');
    t.text('waba_id').notNullable();
    t.text('phone_number_id').notNullable();
    t.text('display_phone_number');
    t.text('verified_name');
    t.text('quality_rating');
    t.text('messaging_limit_tier');
    t.text('name_status');
    t.text('code_verification_status');
    t.text('platform_type');
    t.boolean('is_active').notNullable().defaultTo(true);
    t.timestamp('registered_at', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['integration_id', 'phone_number_id'], { indexName: 'whatsapp_phone_numbers_integration_number_key' });
  });
  // A phone number belongs to at most one active integration.
  await knex.raw(`CREATE UNIQUE INDEX idx_whatsapp_phone_numbers_active_number
    ON whatsapp_phone_numbers (phone_number_id) WHERE is_active = true`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('whatsapp_phone_numbers');
  await knex.schema.dropTable('whatsapp_business_accounts');
  await knex.schema.dropTable('connect_attempts');
  await knex.schema.dropTable('token_staging');
  await knex.schema.dropTable('oauth_states');
}
