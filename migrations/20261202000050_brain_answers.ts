import type { Knex } from 'knex';

// Version 2 of the AI brain's contract: a turn may be answered by several messages (outbound rows
// with ordinals 0..n-1, already unique per turn) and a handoff applied after the last of them, and
// why a brain's answer was not used is kept on the turn (its fallback reason).
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('turns', (t) => {
    t.jsonb('handoff');
    t.text('responder_error');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('turns', (t) => {
    t.dropColumn('handoff');
    t.dropColumn('responder_error');
  });
}
