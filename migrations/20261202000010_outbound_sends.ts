import type { Knex } from 'knex';

// Sends the business starts through our API: one outbound row per (business, idempotency key),
// written with its workflow start in one transaction. The key is stored hashed; the request's hash
// tells a retry (same body) from a reuse (another body). `origin` grows `api` and `template`.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('messages', (t) => {
    t.text('idempotency_key_hash');
    t.text('request_hash');
    // A send not made by then ends `expired`.
    t.timestamp('expires_at', { useTz: true });
  });
  await knex.raw(
    `CREATE UNIQUE INDEX idx_messages_idempotency ON messages (business_id, idempotency_key_hash)
     WHERE idempotency_key_hash IS NOT NULL`,
  );
  await knex.raw('ALTER TABLE messages DROP CONSTRAINT messages_origin_check');
  await knex.raw(
    `ALTER TABLE messages ADD CONSTRAINT messages_origin_check
     CHECK (origin IN ('cloud_api', 'business_app', 'history', 'api', 'template'))`,
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`DELETE FROM messages WHERE origin IN ('api', 'template')`);
  await knex.raw('ALTER TABLE messages DROP CONSTRAINT messages_origin_check');
  await knex.raw(
    `ALTER TABLE messages ADD CONSTRAINT messages_origin_check CHECK (origin IN ('cloud_api', 'business_app', 'history'))`,
  );
  await knex.raw('DROP INDEX idx_messages_idempotency');
  await knex.schema.alterTable('messages', (t) => {
    t.dropColumn('expires_at');
    t.dropColumn('request_hash');
    t.dropColumn('idempotency_key_hash');
  });
}
