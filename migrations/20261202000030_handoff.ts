import type { Knex } from 'knex';

// Handoff: a person takes a conversation over from the bot until they release it or the handoff
// expires. The conversation records who took it, why and until when; each handoff and release
// leaves an audit row (no message text). Agents' sends carry their id and the origin `agent`.
// Conversations are listed by their newest message, found through (conversation_id, id).
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('conversations', (t) => {
    t.text('handoff_agent_id');
    t.text('handoff_note');
    t.timestamp('handoff_at', { useTz: true });
    // After this the bot answers again, even if nobody released the conversation.
    t.timestamp('handoff_expires_at', { useTz: true });
  });
  await knex.raw(`ALTER TABLE conversations ADD CONSTRAINT conversations_mode_check CHECK (mode IN ('bot', 'agent'))`);
  await knex.schema.alterTable('messages', (t) => {
    t.text('agent_id');
  });
  await knex.raw('ALTER TABLE messages DROP CONSTRAINT messages_origin_check');
  await knex.raw(
    `ALTER TABLE messages ADD CONSTRAINT messages_origin_check
     CHECK (origin IN ('cloud_api', 'business_app', 'history', 'api', 'template', 'agent'))`,
  );
  await knex.raw('CREATE INDEX idx_messages_conversation_id ON messages (conversation_id, id)');
  await knex.schema.createTable('conversation_events', (t) => {
    t.bigIncrements('id').primary();
    t.bigInteger('conversation_id').notNullable().references('id').inTable('conversations').onDelete('CASCADE');
    t.text('business_id').notNullable();
    t.text('kind').notNullable();
    t.text('agent_id');
    t.timestamp('expires_at', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['conversation_id', 'id'], 'idx_conversation_events_conversation');
  });
  await knex.raw(
    `ALTER TABLE conversation_events ADD CONSTRAINT conversation_events_kind_check CHECK (kind IN ('handoff', 'release'))`,
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('conversation_events');
  await knex.raw('DROP INDEX idx_messages_conversation_id');
  await knex.raw(`DELETE FROM messages WHERE origin = 'agent'`);
  await knex.raw('ALTER TABLE messages DROP CONSTRAINT messages_origin_check');
  await knex.raw(
    `ALTER TABLE messages ADD CONSTRAINT messages_origin_check
     CHECK (origin IN ('cloud_api', 'business_app', 'history', 'api', 'template'))`,
  );
  await knex.schema.alterTable('messages', (t) => {
    t.dropColumn('agent_id');
  });
  await knex.raw('ALTER TABLE conversations DROP CONSTRAINT conversations_mode_check');
  await knex.schema.alterTable('conversations', (t) => {
    t.dropColumn('handoff_agent_id');
    t.dropColumn('handoff_note');
    t.dropColumn('handoff_at');
    t.dropColumn('handoff_expires_at');
  });
}
