import type { Knex } from 'knex';

// The template catalogue: what Meta's GET /{waba-id}/message_templates answers for each template
// (its components with their parameters, the parameter format, sub-category, rejection reason),
// beside the status, category and quality the template webhooks keep current. A template deleted
// at Meta keeps its row, marked, so a send naming it gets a clear answer.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('message_templates', (t) => {
    t.jsonb('components');
    // POSITIONAL ({{1}}) or NAMED ({{order_id}}).
    t.text('parameter_format');
    t.text('sub_category');
    t.text('rejected_reason');
    // When a sync last saw the template at Meta.
    t.timestamp('synced_at', { useTz: true });
    t.timestamp('deleted_at', { useTz: true });
  });
  await knex.raw(
    'CREATE INDEX idx_message_templates_lookup ON message_templates (waba_id, name, language) WHERE deleted_at IS NULL',
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX idx_message_templates_lookup');
  await knex.schema.alterTable('message_templates', (t) => {
    t.dropColumn('deleted_at');
    t.dropColumn('synced_at');
    t.dropColumn('rejected_reason');
    t.dropColumn('sub_category');
    t.dropColumn('parameter_format');
    t.dropColumn('components');
  });
}
