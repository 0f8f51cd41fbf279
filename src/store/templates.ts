// Read-only lookups of the template catalogue for sends (the catalogue itself is kept elsewhere).
import type { Db } from '../db.js';
import { templateParameterProblem, type SendContent } from '../meta/outbound-message.js';
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

/** Why a send of this template cannot go out (not found, not approved, parameters that do not fit), or null. */
export function templateSendProblem(
  template: SendableTemplate,
  sent: NonNullable<SendContent['template']>,
): { reason: string; message: string } | null {
  if (template.kind === 'not_found')
    return { reason: 'template_not_found', message: `no template ${sent.name} in this language` };
  if (template.kind === 'not_approved')
    return { reason: 'template_not_approved', message: `the template is ${template.status ?? 'not approved'}` };
  const problem = templateParameterProblem(template, sent.components);
  return problem ? { reason: 'template_parameters_mismatch', message: problem } : null;
}
