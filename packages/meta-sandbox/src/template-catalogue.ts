// The Graph API's template catalogue of a WhatsApp Business Account: GET, POST and DELETE
// /{waba-id}/message_templates, as Meta's template management guide and the WABA reference describe
// (https://developers.facebook.com/documentation/business-messaging/whatsapp/templates/template-management/,
// https://developers.facebook.com/documentation/business-messaging/whatsapp/reference/whatsapp-business-account/message-template-api/).
// A new template is PENDING; after a short review it is approved (or rejected, by an admin rule)
// and Meta's message_template_status_update webhook follows.
import { GraphError, invalidParameter } from './errors.js';
import { authenticate, requireScope, visibleWaba } from './graph.js';
import { paged, selectFields } from './paging.js';
import { json, param, type MetaRequest, type Outcome } from './request.js';
import type { SandboxState } from './state.js';
import type { SandboxTemplate, Templates } from './templates.js';

const CATEGORIES = ['AUTHENTICATION', 'MARKETING', 'UTILITY'];
const NAME = /^[a-z0-9_]{1,512}$/;
const LIST_DEFAULTS = ['name', 'parameter_format', 'components', 'language', 'status', 'category'] as const;
/** The languages whose names Meta's duplicate message uses; others appear as their code. */
const LANGUAGE_NAMES: Record<string, string> = {
  en_US: 'English (US)',
  en_GB: 'English (UK)',
  en: 'English',
  de: 'German',
  es: 'Spanish',
  fr: 'French',
  pt_BR: 'Portuguese (BR)',
};

export interface ReviewRule {
  decision: 'APPROVED' | 'REJECTED';
  /** Meta's rejected_reason, e.g. INVALID_FORMAT, PROMOTIONAL, TAG_CONTENT_MISMATCH (default INVALID_FORMAT). */
  reason?: string | undefined;
  /** Only templates whose name starts with this (default: every template). */
  namePrefix?: string | undefined;
}

/** Templates every new account starts with (as WhatsApp Manager gives new accounts hello_world). */
const SEEDS: Array<Omit<SandboxTemplate, 'id' | 'wabaId'>> = [
  {
    name: 'hello_world',
    language: 'en_US',
    category: 'UTILITY',
    status: 'APPROVED',
    qualityScore: 'GREEN',
    parameterFormat: 'POSITIONAL',
    components: [{ type: 'BODY', text: 'Hello {{1}}', example: { body_text: [['Jane']] } }],
  },
  {
    name: 'order_update',
    language: 'en_US',
    category: 'UTILITY',
    status: 'APPROVED',
    qualityScore: 'UNKNOWN',
    parameterFormat: 'NAMED',
    components: [
      { type: 'HEADER', format: 'TEXT', text: 'Your order' },
      {
        type: 'BODY',
        text: 'Order {{order_id}} is on its way.',
        example: { body_text_named_params: [{ param_name: 'order_id', example: '4711' }] },
      },
      { type: 'FOOTER', text: 'Reply STOP to opt out' },
    ],
  },
];

/** Meta's error for a template problem: code 100 with words for the person. */
function templateError(title: string, message: string, subcode?: number): GraphError {
  return new GraphError({
    status: 400,
    code: 100,
    message: 'Invalid parameter',
    ...(subcode !== undefined ? { subcode } : {}),
    isTransient: false,
    userTitle: title,
    userMessage: message,
  });
}

export class TemplateCatalogue {
  private readonly seeded = new Set<string>();
  private rules: ReviewRule[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(private readonly deps: { templates: Templates; now: () => number; reviewDelayMs: number }) {}

  /** Review rules, newest first wins; names starting with `reject_` are always rejected. */
  setRule(rule: ReviewRule): void {
    this.rules.unshift(rule);
  }

  clearRules(): void {
    this.rules = [];
  }

  close(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  /** The account's templates, seeded on first sight. */
  templatesOf(wabaId: string): SandboxTemplate[] {
    if (!this.seeded.has(wabaId)) {
      this.seeded.add(wabaId);
      for (const seed of SEEDS) this.deps.templates.add({ ...seed, wabaId });
    }
    return this.deps.templates.list(wabaId).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** Templates made at Meta outside the API (WhatsApp Manager): no webhook, no review. */
  addDirect(wabaId: string, template: Omit<SandboxTemplate, 'id' | 'wabaId'>): SandboxTemplate {
    this.templatesOf(wabaId);
    return this.deps.templates.add({ ...template, wabaId });
  }

  list(req: MetaRequest, state: SandboxState, wabaId: string): Outcome {
    const token = authenticate(req, state);
    visibleWaba(state, token, wabaId, req.method);
    requireScope(token, 'whatsapp_business_management');
    const name = param(req, 'name');
    const status = param(req, 'status');
    const language = param(req, 'language');
    const nodes = this.templatesOf(wabaId)
      .filter((t) => (name === undefined || t.name.includes(name)) && (status === undefined || t.status === status))
      .filter((t) => language === undefined || t.language === language)
      .map((t) => selectFields(req, nodeOf(t), LIST_DEFAULTS, 'WhatsAppBusinessHSM'));
    return json(paged(req, nodes));
  }

  create(req: MetaRequest, state: SandboxState, wabaId: string): Outcome {
    const token = authenticate(req, state);
    visibleWaba(state, token, wabaId, req.method);
    requireScope(token, 'whatsapp_business_management');
    const name = param(req, 'name');
    const language = param(req, 'language');
    const category = param(req, 'category');
    const format = param(req, 'parameter_format') ?? 'POSITIONAL';
    const components = req.params.components;
    if (name === undefined) throw invalidParameter('The parameter name is required.');
    if (language === undefined) throw invalidParameter('The parameter language is required.');
    if (category === undefined) throw invalidParameter('The parameter category is required.');
    if (!CATEGORIES.includes(category))
      throw invalidParameter(`Param category must be one of {${CATEGORIES.join(', ')}} - got "${category}".`);
    if (format !== 'POSITIONAL' && format !== 'NAMED')
      throw invalidParameter(`Param parameter_format must be one of {POSITIONAL, NAMED} - got "${format}".`);
    if (!NAME.test(name))
      throw templateError(
        'Invalid template name',
        'Template names can only contain lowercase letters, numbers and underscores.',
      );
    const list = Array.isArray(components) ? (components as Array<Record<string, unknown>>) : [];
    const body = list.find((c) => typeof c?.type === 'string' && c.type.toUpperCase() === 'BODY');
    if (category !== 'AUTHENTICATION' && (typeof body?.text !== 'string' || body.text.trim() === ''))
      throw templateError('Message template body is missing', 'Add a body with text to your message template.');
    if (this.templatesOf(wabaId).some((t) => t.name === name && t.language === language))
      throw templateError(
        'Content in This Language Already Exists',
        `There's already ${LANGUAGE_NAMES[language] ?? language} content for this template. You can create a new template and try again.`,
        2388024,
      );
    const template = this.deps.templates.add({
      wabaId,
      name,
      language,
      category,
      status: 'PENDING',
      qualityScore: 'UNKNOWN',
      parameterFormat: format,
      components: list,
      rejectedReason: 'NONE',
    });
    this.scheduleReview(template.id);
    return json({ id: template.id, status: template.status, category: template.category }, 'applied');
  }

  delete(req: MetaRequest, state: SandboxState, wabaId: string): Outcome {
    const token = authenticate(req, state);
    visibleWaba(state, token, wabaId, req.method);
    requireScope(token, 'whatsapp_business_management');
    const name = param(req, 'name');
    const hsmId = param(req, 'hsm_id');
    if (name === undefined) throw invalidParameter('The parameter name is required.');
    const matching = this.templatesOf(wabaId).filter((t) => t.name === name && (hsmId === undefined || t.id === hsmId));
    if (matching.length === 0)
      throw templateError('Message template not found', `The message template ${name} does not exist.`);
    for (const template of matching) this.deps.templates.remove(template.id);
    return json({ success: true }, 'applied');
  }

  private scheduleReview(templateId: string): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      const template = this.deps.templates.get(templateId);
      if (!template || template.status !== 'PENDING') return;
      const rule = this.rules.find((r) => r.namePrefix === undefined || template.name.startsWith(r.namePrefix));
      const rejected = rule?.decision === 'REJECTED' || (!rule && template.name.startsWith('reject_'));
      if (rejected) {
        const reason = rule?.reason ?? 'INVALID_FORMAT';
        template.rejectedReason = reason;
        this.deps.templates.status(template.wabaId, { templateId, event: 'REJECTED', reason });
      } else {
        this.deps.templates.status(template.wabaId, { templateId, event: 'APPROVED' });
      }
    }, this.deps.reviewDelayMs);
    timer.unref();
    this.timers.add(timer);
  }
}

function nodeOf(t: SandboxTemplate): Record<string, unknown> & { id: string } {
  return {
    id: t.id,
    name: t.name,
    language: t.language,
    status: t.status,
    category: t.category,
    // Known to the node type, absent from the answer while unset (as Meta leaves out empty fields).
    sub_category: t.subCategory,
    parameter_format: t.parameterFormat ?? 'POSITIONAL',
    components: t.components ?? [],
    rejected_reason: t.rejectedReason ?? 'NONE',
    quality_score: { score: t.qualityScore, date: Math.floor(Date.now() / 1000) },
  };
}
