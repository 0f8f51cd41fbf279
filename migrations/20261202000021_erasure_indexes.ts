import type { Knex } from 'knex';

// An erasure finds a customer's rows by keys nothing else searched by until now: messages by
// customer row, statuses by the recipient's BSUID, a business's conversations and outbox rows, and
// the integrations a Facebook user connected (Meta's data-deletion callback). Built CONCURRENTLY,
// outside a transaction: intake keeps writing to these tables meanwhile.
export const config = { transaction: false };

const INDEXES: Array<[name: string, definition: string]> = [
  ['idx_messages_customer', 'messages (customer_id) WHERE customer_id IS NOT NULL'],
  [
    'idx_message_statuses_recipient_user',
    'message_statuses (phone_number_id, recipient_user_id) WHERE recipient_user_id IS NOT NULL',
  ],
  ['idx_conversations_business', 'conversations (business_id)'],
  ['idx_workflow_starts_business_any', 'workflow_starts (business_id) WHERE business_id IS NOT NULL'],
  ['idx_channel_integrations_meta_user', 'channel_integrations (meta_user_id) WHERE meta_user_id IS NOT NULL'],
];

export async function up(knex: Knex): Promise<void> {
  for (const [name, definition] of INDEXES) {
    // A build interrupted earlier leaves an invalid index behind under the same name.
    await knex.raw(`DROP INDEX CONCURRENTLY IF EXISTS ${name}`);
    await knex.raw(`CREATE INDEX CONCURRENTLY ${name} ON ${definition}`);
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const [name] of [...INDEXES].reverse()) await knex.raw(`DROP INDEX CONCURRENTLY IF EXISTS ${name}`);
}
