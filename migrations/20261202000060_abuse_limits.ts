import type { Knex } from 'knex';

// Per-tenant rate limits live in PostgreSQL (rate-limiter-flexible's RateLimiterPostgres), so every
// API process shares one budget per business. The table has exactly the columns the library's own
// CREATE TABLE would make; creating it here means the API needs no DDL rights at run time.
// Bounding a business's unexpired OAuth states and tickets looks them up by business.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('rate_limits', (t) => {
    t.string('key', 255).primary({ constraintName: 'rate_limits_pkey' });
    t.integer('points').notNullable().defaultTo(0);
    // Epoch milliseconds, as the library writes it.
    t.bigInteger('expire');
    t.index(['expire'], 'idx_rate_limits_expire');
  });
  await knex.schema.alterTable('oauth_states', (t) => {
    t.index(['business_id', 'expires_at'], 'idx_oauth_states_business_expires');
  });
  await knex.schema.alterTable('connect_tickets', (t) => {
    t.index(['business_id', 'expires_at'], 'idx_connect_tickets_business_expires');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('connect_tickets', (t) => {
    t.dropIndex([], 'idx_connect_tickets_business_expires');
  });
  await knex.schema.alterTable('oauth_states', (t) => {
    t.dropIndex([], 'idx_oauth_states_business_expires');
  });
  await knex.schema.dropTable('rate_limits');
}
