import type { Knex } from 'knex';

// What Meta says about a token and an account, kept where status reads it:
// - the kind of each integration's token (`debug_token`'s `type`, with its expiry deciding between
//   the 60-day system-user token and the business token that never expires), which decides how
//   token care treats it;
// - a number's messaging limit as Meta reports it since the limit moved to the business portfolio
//   (`whatsapp_business_manager_messaging_limit` on the number, `max_daily_conversations_per_business`
//   in webhooks), and its throughput level, which is a different thing;
// - an account's ban state and date from `account_update` DISABLED_UPDATE events.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('channel_integrations', (t) => {
    t.text('token_kind');
  });
  await knex.schema.alterTable('whatsapp_phone_numbers', (t) => {
    t.text('business_messaging_limit');
    t.text('max_daily_conversations_per_business');
    t.text('throughput_level');
  });
  await knex.schema.alterTable('whatsapp_business_accounts', (t) => {
    t.text('ban_state');
    t.text('ban_date');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('whatsapp_business_accounts', (t) => {
    t.dropColumn('ban_date');
    t.dropColumn('ban_state');
  });
  await knex.schema.alterTable('whatsapp_phone_numbers', (t) => {
    t.dropColumn('throughput_level');
    t.dropColumn('max_daily_conversations_per_business');
    t.dropColumn('business_messaging_limit');
  });
  await knex.schema.alterTable('channel_integrations', (t) => {
    t.dropColumn('token_kind');
  });
}
