import type { Knex } from 'knex';

// Media of inbound messages (image, audio, video, document, sticker): one row per message, written
// when HandleInboundMessage fetches it from Meta. The row keeps Meta's media id (to fetch again)
// and what we stored; never Meta's short-lived download URL.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('media', (t) => {
    t.bigIncrements('id').primary();
    t.bigInteger('message_id').notNullable().references('id').inTable('messages').onDelete('CASCADE');
    t.text('business_id').notNullable();
    t.uuid('integration_id').references('id').inTable('channel_integrations').onDelete('SET NULL');
    t.text('kind').notNullable();
    t.text('meta_media_id').notNullable();
    t.text('mime_type');
    t.text('filename');
    t.bigInteger('size');
    // Hex SHA-256 of the stored bytes, checked against the one Meta declared.
    t.text('sha256');
    t.text('storage_key');
    t.text('state').notNullable().defaultTo('pending');
    t.text('failure_reason');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw(`ALTER TABLE media ADD CONSTRAINT media_state_check CHECK (state IN ('pending', 'stored', 'failed'))`);
  await knex.raw('CREATE UNIQUE INDEX idx_media_message ON media (message_id)');
  await knex.raw('CREATE INDEX idx_media_business_created ON media (business_id, created_at)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('media');
}
