import type { Knex } from 'knex';

// Intake at database speed: customers (phone, BSUID or both), conversations with their commit-order
// counter, turns (the frozen set of messages one reply answers), outbound rows keyed by turn and
// ordinal, the workflow-start outbox, and webhook items PostgreSQL refused. Existing messages are
// backfilled into customers and conversations.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('customers', (t) => {
    t.bigIncrements('id').primary();
    t.text('business_id').notNullable();
    // Meta's business-scoped user id: a country code, a period and up to 128 characters.
    t.string('bsuid', 160);
    t.string('parent_bsuid', 160);
    t.text('phone');
    t.text('profile_name');
    t.text('username');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw(
    'ALTER TABLE customers ADD CONSTRAINT customers_identity_check CHECK (bsuid IS NOT NULL OR phone IS NOT NULL)',
  );
  await knex.raw(
    'CREATE UNIQUE INDEX idx_customers_business_bsuid ON customers (business_id, bsuid) WHERE bsuid IS NOT NULL',
  );
  await knex.raw(
    'CREATE UNIQUE INDEX idx_customers_business_phone ON customers (business_id, phone) WHERE phone IS NOT NULL',
  );

  await knex.schema.createTable('conversations', (t) => {
    t.bigIncrements('id').primary();
    t.text('business_id').notNullable();
    t.uuid('integration_id').references('id').inTable('channel_integrations').onDelete('SET NULL');
    t.text('phone_number_id').notNullable();
    t.bigInteger('customer_id').notNullable().references('id').inTable('customers').onDelete('CASCADE');
    // The sequence of the last inbound message committed: sequence = commit order.
    t.bigInteger('last_sequence').notNullable().defaultTo(0);
    t.text('mode').notNullable().defaultTo('bot');
    t.timestamp('bot_paused_until', { useTz: true });
    // When the current head of the line started waiting (the last time a message closed).
    t.timestamp('head_since', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    // A conversation of a customer merged into another one keeps its messages and stops taking new ones.
    t.bigInteger('merged_into').references('id').inTable('conversations').onDelete('SET NULL');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw(
    'CREATE UNIQUE INDEX idx_conversations_number_customer ON conversations (phone_number_id, customer_id) WHERE merged_into IS NULL',
  );
  await knex.raw('CREATE INDEX idx_conversations_customer ON conversations (customer_id)');

  await knex.schema.alterTable('messages', (t) => {
    t.bigInteger('customer_id').references('id').inTable('customers').onDelete('SET NULL');
    t.bigInteger('conversation_id').references('id').inTable('conversations').onDelete('SET NULL');
    t.bigInteger('sequence');
  });
  await knex.raw('ALTER TABLE messages ALTER COLUMN customer_wa_id DROP NOT NULL');

  await knex.schema.createTable('turns', (t) => {
    t.bigIncrements('id').primary();
    t.bigInteger('conversation_id').notNullable().references('id').inTable('conversations').onDelete('CASCADE');
    t.bigInteger('head_message_id').notNullable().references('id').inTable('messages').onDelete('CASCADE');
    // The frozen set, in sequence order; the reply goes in reply to the newest.
    t.specificType('message_ids', 'bigint[]').notNullable();
    t.bigInteger('reply_to_message_id').notNullable().references('id').inTable('messages').onDelete('CASCADE');
    t.text('state').notNullable().defaultTo('open');
    t.text('outcome');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('closed_at', { useTz: true });
  });
  await knex.raw(`ALTER TABLE turns ADD CONSTRAINT turns_state_check CHECK (state IN ('open', 'done', 'failed'))`);
  await knex.raw(`CREATE INDEX idx_turns_open ON turns (conversation_id) WHERE state = 'open'`);

  await knex.schema.alterTable('messages', (t) => {
    t.bigInteger('turn_id').references('id').inTable('turns').onDelete('SET NULL');
    t.integer('ordinal');
  });
  await knex.raw(
    'CREATE UNIQUE INDEX idx_messages_conversation_sequence ON messages (conversation_id, sequence) WHERE sequence IS NOT NULL',
  );
  await knex.raw(`CREATE INDEX idx_messages_waiting ON messages (conversation_id, sequence) WHERE status = 'received'`);
  await knex.raw(
    `CREATE UNIQUE INDEX idx_messages_turn_ordinal ON messages (turn_id, ordinal) WHERE direction = 'outbound' AND turn_id IS NOT NULL`,
  );
  // One reply row per inbound message holds for rows written before turns; a turn's sends are keyed above.
  await knex.raw('DROP INDEX idx_messages_in_reply_to');
  await knex.raw(
    'CREATE UNIQUE INDEX idx_messages_in_reply_to ON messages (in_reply_to) WHERE in_reply_to IS NOT NULL AND turn_id IS NULL',
  );

  await knex.schema.alterTable('message_statuses', (t) => {
    t.text('recipient_user_id');
    t.text('callback_data');
  });

  await knex.schema.createTable('workflow_starts', (t) => {
    t.bigIncrements('id').primary();
    t.text('workflow_type').notNullable();
    t.text('workflow_id').notNullable().unique('workflow_starts_workflow_id_key');
    // The deployment's base task queue: its workers drain its rows.
    t.text('task_queue').notNullable();
    t.jsonb('args').notNullable();
    t.text('business_id');
    t.uuid('integration_id');
    t.bigInteger('message_id').references('id').inTable('messages').onDelete('CASCADE');
    // Runs started so far: the first, then at most three restarts after a failed run.
    t.integer('attempts').notNullable().defaultTo(0);
    // Before this time the drain leaves the row alone (the API's fast path, a claim, the next check).
    t.timestamp('available_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('started_at', { useTz: true });
    t.timestamp('done_at', { useTz: true });
    t.text('last_error');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw(
    'CREATE INDEX idx_workflow_starts_due ON workflow_starts (task_queue, available_at) WHERE done_at IS NULL',
  );
  await knex.raw('CREATE INDEX idx_workflow_starts_message ON workflow_starts (message_id) WHERE done_at IS NULL');
  await knex.raw(
    'CREATE INDEX idx_workflow_starts_business_active ON workflow_starts (business_id) WHERE done_at IS NULL AND started_at IS NOT NULL',
  );

  await knex.schema.createTable('rejected_items', (t) => {
    t.bigIncrements('id').primary();
    t.text('kind').notNullable();
    t.text('reason').notNullable();
    // The item as JSON text: the form PostgreSQL refused may not fit a jsonb column.
    t.text('raw').notNullable();
    t.timestamp('received_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['reason', 'received_at'], 'idx_rejected_items_reason_received');
  });

  // Backfill: one customer per business and phone, one conversation per number and customer, and
  // each stored message's sequence in its conversation (commit order is id order).
  await knex.raw(`
    INSERT INTO customers (business_id, phone, profile_name, created_at)
    SELECT business_id, customer_wa_id,
           (array_agg(customer_name ORDER BY id DESC) FILTER (WHERE customer_name IS NOT NULL))[1], min(created_at)
    FROM messages
    WHERE business_id IS NOT NULL AND customer_wa_id IS NOT NULL AND customer_wa_id <> ''
    GROUP BY business_id, customer_wa_id`);
  await knex.raw(`
    INSERT INTO conversations (business_id, integration_id, phone_number_id, customer_id, created_at)
    SELECT DISTINCT ON (m.phone_number_id, c.id) m.business_id, m.integration_id, m.phone_number_id, c.id, m.created_at
    FROM messages m JOIN customers c ON c.business_id = m.business_id AND c.phone = m.customer_wa_id
    ORDER BY m.phone_number_id, c.id, m.id DESC`);
  await knex.raw(`
    UPDATE messages m SET customer_id = c.id, conversation_id = v.id
    FROM customers c JOIN conversations v ON v.customer_id = c.id
    WHERE c.business_id = m.business_id AND c.phone = m.customer_wa_id AND v.phone_number_id = m.phone_number_id`);
  await knex.raw(`
    UPDATE messages m SET sequence = s.sequence
    FROM (SELECT id, row_number() OVER (PARTITION BY conversation_id ORDER BY id) AS sequence
          FROM messages WHERE direction = 'inbound' AND conversation_id IS NOT NULL) s
    WHERE s.id = m.id`);
  await knex.raw(`
    UPDATE conversations v SET last_sequence = s.last
    FROM (SELECT conversation_id, max(sequence) AS last FROM messages WHERE sequence IS NOT NULL GROUP BY conversation_id) s
    WHERE s.conversation_id = v.id`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('rejected_items');
  await knex.schema.dropTable('workflow_starts');
  await knex.schema.alterTable('message_statuses', (t) => {
    t.dropColumn('recipient_user_id');
    t.dropColumn('callback_data');
  });
  await knex.raw('DROP INDEX idx_messages_in_reply_to');
  await knex.raw('DROP INDEX idx_messages_turn_ordinal');
  await knex.raw('DROP INDEX idx_messages_waiting');
  await knex.raw('DROP INDEX idx_messages_conversation_sequence');
  await knex.schema.alterTable('messages', (t) => {
    t.dropColumn('turn_id');
    t.dropColumn('ordinal');
  });
  await knex.schema.dropTable('turns');
  // Rows written for username users have no phone; they cannot go back to a NOT NULL column.
  await knex.raw(`DELETE FROM messages WHERE customer_wa_id IS NULL`);
  await knex.raw('ALTER TABLE messages ALTER COLUMN customer_wa_id SET NOT NULL');
  await knex.raw(
    'CREATE UNIQUE INDEX idx_messages_in_reply_to ON messages (in_reply_to) WHERE in_reply_to IS NOT NULL',
  );
  await knex.schema.alterTable('messages', (t) => {
    t.dropColumn('customer_id');
    t.dropColumn('conversation_id');
    t.dropColumn('sequence');
  });
  await knex.schema.dropTable('conversations');
  await knex.schema.dropTable('customers');
}
