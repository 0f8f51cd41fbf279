import type { Knex } from 'knex';

// The template catalogue's syncs per WhatsApp Business Account: when one last completed, and when
// one was last asked for, so a pass that began before the ask knows to run once more.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('whatsapp_business_accounts', (t) => {
    t.timestamp('templates_synced_at', { useTz: true });
    t.timestamp('templates_sync_requested_at', { useTz: true });
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('whatsapp_business_accounts', (t) => {
    t.dropColumn('templates_sync_requested_at');
    t.dropColumn('templates_synced_at');
  });
}
