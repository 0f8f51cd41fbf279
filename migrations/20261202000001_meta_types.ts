import type { Knex } from 'knex';

// What Meta's 2026 webhooks carry beyond a message and its status: a customer's edit (the text
// changes, the first text stays), a revoke (the message is kept, marked deleted), the pricing and
// conversation objects of a status, and the errors Meta reports for a number as a whole.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('messages', (t) => {
    // The text as the customer first wrote it; null until an edit changes `body`.
    t.text('original_body');
    t.timestamp('edited_at', { useTz: true });
    // When the customer deleted the message (a revoke): its row stays for the history.
    t.timestamp('revoked_at', { useTz: true });
  });
  await knex.schema.alterTable('message_statuses', (t) => {
    t.jsonb('pricing');
    t.jsonb('conversation');
  });
  // Meta's errors webhook (`value.errors`): a problem that stopped a request, reported for the
  // number, with no message or status to attach it to. Not `rejected_items`, which holds what our
  // own database refused (and is counted and alerted on as such).
  await knex.schema.createTable('webhook_errors', (t) => {
    t.bigIncrements('id').primary();
    t.text('phone_number_id').notNullable();
    t.text('waba_id');
    t.integer('code');
    t.text('title');
    t.text('message');
    t.text('details');
    t.timestamp('received_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['phone_number_id', 'received_at'], 'idx_webhook_errors_number_received');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('webhook_errors');
  await knex.schema.alterTable('message_statuses', (t) => {
    t.dropColumn('conversation');
    t.dropColumn('pricing');
  });
  await knex.schema.alterTable('messages', (t) => {
    t.dropColumn('revoked_at');
    t.dropColumn('edited_at');
    t.dropColumn('original_body');
  });
}
