// Read-only lookups of the template catalogue for sends (the catalogue itself is kept elsewhere).
import type { Db } from '../db.js';
import type { Knex } from 'knex';

export type SendableTemplate =
  | { kind: 'found'; components: unknown[] | null; parameterFormat: string | null; category: string | null }
  | { kind: 'not_found' }
  | { kind: 'not_approved'; status: string | null };

/** The template a send names, if Meta approved it and it was not deleted. */
export async function findSendableTemplate(
  db: Db | Knex.Transaction,
  key: { wabaId: string; name: string; language: string },
): Promise<SendableTemplate> {
  const rows = await db('message_templates')
    .where({ waba_id: key.wabaId, name: key.name, language: key.language })
    .whereNull('deleted_at')
    .orderBy('updated_at', 'desc')
    .select('status', 'components', 'parameter_format', 'category');
  if (rows.length === 0) return { kind: 'not_found' };
  const approved = rows.find((r) => r.status === 'APPROVED');
  if (!approved) return { kind: 'not_approved', status: rows[0]!.status };
  return {
    kind: 'found',
    components: approved.components,
    parameterFormat: approved.parameter_format,
    category: approved.category,
  };
}
