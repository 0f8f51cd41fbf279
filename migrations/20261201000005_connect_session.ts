import type { Knex } from 'knex';

// Binds the OAuth state to the browser that asked for it: a one-time ticket the browser opens on our
// origin, and the hash of the nonce that hop puts in a cookie. Only hashes are stored.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('connect_tickets', (t) => {
    t.text('ticket_hash').primary({ constraintName: 'connect_tickets_pkey' });
    t.text('business_id').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.timestamp('used_at', { useTz: true });
    t.index(['expires_at'], 'idx_connect_tickets_expires_at');
  });
  await knex.schema.alterTable('oauth_states', (t) => {
    t.text('nonce_hash');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('oauth_states', (t) => {
    t.dropColumn('nonce_hash');
  });
  await knex.schema.dropTable('connect_tickets');
}
