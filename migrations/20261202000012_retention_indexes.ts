import type { Knex } from 'knex';

// The retention sweep finds old rows by their time column and deletes them in small batches, so
// each table it sweeps needs an index led by that column; deleting a message also looks up the
// rows that point at it (replies, turns, outbox rows), which need plain indexes on those keys.
// Built CONCURRENTLY, outside a transaction: intake keeps writing to these tables meanwhile.
export const config = { transaction: false };

const INDEXES: Array<[name: string, definition: string]> = [
  ['idx_messages_created', 'messages (created_at, id)'],
  [
    'idx_messages_text_kept',
    'messages (created_at, id) WHERE body IS NOT NULL OR original_body IS NOT NULL OR content IS NOT NULL',
  ],
  ['idx_messages_reply_of', 'messages (in_reply_to) WHERE in_reply_to IS NOT NULL'],
  ['idx_messages_turn', 'messages (turn_id) WHERE turn_id IS NOT NULL'],
  ['idx_turns_head_message', 'turns (head_message_id)'],
  ['idx_turns_reply_to_message', 'turns (reply_to_message_id)'],
  ['idx_workflow_starts_message_any', 'workflow_starts (message_id) WHERE message_id IS NOT NULL'],
  ['idx_workflow_starts_done', 'workflow_starts (done_at) WHERE done_at IS NOT NULL'],
  ['idx_message_statuses_received', 'message_statuses (received_at)'],
  ['idx_account_events_received', 'account_events (received_at)'],
  ['idx_webhook_errors_received', 'webhook_errors (received_at)'],
  ['idx_registration_attempts_time', 'phone_number_registration_attempts (attempted_at)'],
  ['idx_signup_events_created', 'signup_events (created_at)'],
  ['idx_connect_attempts_finished', 'connect_attempts (finished_at) WHERE finished_at IS NOT NULL'],
  ['idx_rejected_items_received', 'rejected_items (received_at)'],
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
