// A message template as the API answers it, every field listed.
import type { TemplatePage } from '../../services/templates.js';
import type { MessageTemplateRow } from '../../store/tables.js';

export interface TemplateView {
  id: string;
  wabaId: string;
  name: string | null;
  language: string | null;
  category: string | null;
  subCategory: string | null;
  status: string | null;
  qualityScore: string | null;
  parameterFormat: string | null;
  /** Meta's components, in Meta's own shape (the template's structure is Meta's format). */
  components: unknown[] | null;
  rejectedReason: string | null;
  updatedAt: string;
}

export function templateView(row: MessageTemplateRow): TemplateView {
  const reason = row.status_reason ?? row.rejected_reason;
  return {
    id: row.message_template_id,
    wabaId: row.waba_id,
    name: row.name,
    language: row.language,
    category: row.category,
    subCategory: row.sub_category,
    status: row.status,
    qualityScore: row.quality_score,
    parameterFormat: row.parameter_format,
    components: row.components,
    rejectedReason: row.status === 'REJECTED' && reason && reason !== 'NONE' ? reason : null,
    updatedAt: row.updated_at.toISOString(),
  };
}

export function templatePageView(page: TemplatePage): { templates: TemplateView[]; nextBefore: number | null } {
  return { templates: page.templates.map(templateView), nextBefore: page.nextBefore };
}
