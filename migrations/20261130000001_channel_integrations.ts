import type { Knex } from 'knex';

// The table the product's users already know, with the columns later steps need:
// non-secret Meta facts as plain columns, the token only as ciphertext inside `credentials`.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('channel_integrations', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('business_id').notNullable();
    t.text('channel').notNullable();
    t.text('channel_name').notNullable();
    // { "accessToken": "v1.<keyId>.<ciphertext>" }; null once disconnected.
    t.jsonb('credentials');
    t.boolean('is_active').notNullable().defaultTo(false);
    t.text('state').notNullable().defaultTo('inactive');
    t.text('token_type');
    t.timestamp('token_expires_at', { useTz: true });
    t.text('token_health').notNullable().defaultTo('unknown');
    t.timestamp('token_checked_at', { useTz: true });
    t.text('token_last_error');
    t.text('meta_user_id');
    t.jsonb('settings').notNullable().defaultTo('{}');
    t.timestamp('connected_at', { useTz: true });
    t.timestamp('disconnected_at', { useTz: true });
    t.text('inactive_reason');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw(`ALTER TABLE channel_integrations
    ADD CONSTRAINT channel_integrations_state_check
    CHECK (state IN ('active', 'needs_reauth', 'removed', 'inactive'))`);
  await knex.raw(`ALTER TABLE channel_integrations
    ADD CONSTRAINT channel_integrations_token_health_check
    CHECK (token_health IN ('ok', 'expiring', 'needs_reauth', 'unknown'))`);
  // At most one active integration per business and channel (unique).
  await knex.raw(`CREATE UNIQUE INDEX idx_channel_integrations_business_whatsapp
    ON channel_integrations (business_id, channel)
    WHERE channel = 'whatsapp' AND is_active = true`);
  await knex.raw(
    'CREATE INDEX idx_channel_integrations_business ON channel_integrations (business_id, channel, created_at DESC)',
  );

  // One row per run of the SelfCheck workflow: proof that a worker reached PostgreSQL.
  await knex.schema.createTable('self_checks', (t) => {
    t.text('id').primary();
    t.text('worker_identity').notNullable();
    t.timestamp('checked_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('self_checks');
  await knex.schema.dropTable('channel_integrations');
}
