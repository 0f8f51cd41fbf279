import type { Knex } from 'knex';

// Facts Meta reports for a number that decide how we treat it: its own `status` (CONNECTED,
// PENDING, FLAGGED, ...) and whether it stays on the WhatsApp Business app (coexistence), with
// when it was onboarded that way (Meta's history and contact syncs are open for 24 hours after).
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('whatsapp_phone_numbers', (t) => {
    t.text('meta_status');
    t.boolean('is_on_biz_app').notNullable().defaultTo(false);
    t.timestamp('coexistence_onboarded_at', { useTz: true });
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('whatsapp_phone_numbers', (t) => {
    t.dropColumn('coexistence_onboarded_at');
    t.dropColumn('is_on_biz_app');
    t.dropColumn('meta_status');
  });
}
