import type { Knex } from 'knex';

// Per-recipient pacing keeps its rows in send_pacing (recipient = a hash of the customer). Added here:
// an operator's cap on a number's send rate, below what Meta allows it, and the business-initiated
// recipients of each portfolio in Meta's moving 24 hours, which the messaging limit counts.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('whatsapp_phone_numbers', (t) => {
    t.integer('send_rate_limit_mps');
  });
  await knex.schema.createTable('messaging_limit_recipients', (t) => {
    t.text('portfolio_key').notNullable();
    t.text('recipient_key').notNullable();
    t.text('phone_number_id').notNullable();
    t.timestamp('claimed_at', { useTz: true }).notNullable();
    t.primary(['portfolio_key', 'recipient_key'], { constraintName: 'messaging_limit_recipients_pkey' });
    t.index(['portfolio_key', 'claimed_at'], 'messaging_limit_recipients_window_idx');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('messaging_limit_recipients');
  await knex.schema.alterTable('whatsapp_phone_numbers', (t) => {
    t.dropColumn('send_rate_limit_mps');
  });
}
