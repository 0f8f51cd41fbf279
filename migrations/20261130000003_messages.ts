import type { Knex } from 'knex';

// Messages both ways and the delivery statuses Meta reports for ours. PostgreSQL decides
// duplicates: a unique inbound wamid, and one reply row per inbound message, written before the
// send and completed with Meta's id after.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('messages', (t) => {
    t.bigIncrements('id').primary();
    t.text('direction').notNullable();
    t.text('wamid');
    t.uuid('integration_id').references('id').inTable('channel_integrations').onDelete('SET NULL');
    t.text('business_id');
    t.text('phone_number_id').notNullable();
    t.text('customer_wa_id').notNullable();
    t.text('customer_name');
    t.text('type').notNullable();
    t.text('body');
    t.jsonb('content');
    // Meta's timestamp of an inbound message (when the customer sent it); ours for replies.
    t.timestamp('sent_at', { useTz: true }).notNullable();
    t.text('status').notNullable();
    t.jsonb('error');
    t.bigInteger('in_reply_to').references('id').inTable('messages').onDelete('CASCADE');
    t.text('responder');
    // When the last send attempt started whose outcome is unknown (see activities/meta.ts sendReply).
    t.timestamp('attempt_started_at', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw(
    `ALTER TABLE messages ADD CONSTRAINT messages_direction_check CHECK (direction IN ('inbound', 'outbound'))`,
  );
  await knex.raw('CREATE UNIQUE INDEX idx_messages_wamid ON messages (wamid) WHERE wamid IS NOT NULL');
  await knex.raw(
    'CREATE UNIQUE INDEX idx_messages_in_reply_to ON messages (in_reply_to) WHERE in_reply_to IS NOT NULL',
  );
  await knex.raw('CREATE INDEX idx_messages_conversation ON messages (phone_number_id, customer_wa_id, sent_at, id)');
  await knex.raw('CREATE INDEX idx_messages_business_created ON messages (business_id, created_at DESC, id DESC)');

  // Every status Meta reported, once per (message, status): the history, the dedupe, and the
  // holding place for statuses that arrive before the reply row knows its wamid.
  await knex.schema.createTable('message_statuses', (t) => {
    t.text('wamid').notNullable();
    t.text('status').notNullable();
    t.text('phone_number_id');
    t.text('recipient_id');
    t.timestamp('occurred_at', { useTz: true }).notNullable();
    t.jsonb('errors');
    t.timestamp('received_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['wamid', 'status'], { constraintName: 'message_statuses_pkey' });
  });
  await knex.raw(
    'CREATE INDEX idx_message_statuses_recipient ON message_statuses (phone_number_id, recipient_id, occurred_at)',
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('message_statuses');
  await knex.schema.dropTable('messages');
}
