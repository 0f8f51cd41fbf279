// Message templates as Meta reports their life in webhooks (status reviews, recategorisation,
// quality changes), and a customer stopping or resuming marketing messages (user_preferences).
// Shapes from Meta's webhook references:
// https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/message_template_status_update
// https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/template_category_update
// https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/message_template_quality_update
// https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/user_preferences
// The template id is an integer in these webhooks, as Meta's examples show it.
import { digitsOf } from './ids.js';
import type { PhoneNumber } from './model.js';
import type { WebhookMeta, WebhookRecord } from './webhooks.js';
import type { World } from './world.js';

export interface SandboxTemplate {
  id: string;
  wabaId: string;
  name: string;
  language: string;
  category: string;
  status: string;
  qualityScore: string;
  /** What GET /{waba-id}/message_templates adds (templates made by webhooks alone have none). */
  components?: Array<Record<string, unknown>>;
  parameterFormat?: string;
  subCategory?: string;
  rejectedReason?: string;
}

export interface TemplateStatusInput {
  /** An existing template; without it a new one is made (PENDING, MARKETING, en_US). */
  templateId?: string;
  name?: string;
  language?: string;
  category?: string;
  event: string;
  /** Meta's reason (default NONE; null when the template is scheduled for deletion). */
  reason?: string | null;
  /** `other_info` (locks, pauses): {title, description}. */
  otherInfo?: { title: string; description: string };
  /** `rejection_info` of a rejection for INVALID_FORMAT. */
  rejectionInfo?: { reason: string; recommendation: string };
}

export interface TemplateCategoryInput {
  templateId: string;
  category: string;
  /** Announce the change (Meta's 24-hour notice) instead of making it. */
  impending?: boolean;
}

export interface TemplateQualityInput {
  templateId: string;
  qualityScore: 'GREEN' | 'YELLOW' | 'RED' | 'UNKNOWN';
}

export interface PreferenceInput {
  phoneNumberId: string;
  /** The customer's phone number: a customer who already wrote to the number. */
  from: string;
  value: 'stop' | 'resume';
  /** Seconds since the epoch (default now): lets a test send an older report after a newer one. */
  timestamp?: number;
}

type Post = (meta: WebhookMeta, payload: unknown) => WebhookRecord;
type Customer = { phoneNumberId: string; waId: string; bsuid: string; username: string | undefined; name: string };

// Template statuses an event leaves in place (the event is about the template, not a new status).
const KEEPS_STATUS = new Set(['FLAGGED', 'LOCKED', 'UNLOCKED', 'UNARCHIVED', 'LIMIT_EXCEEDED']);

export class Templates {
  private readonly byId = new Map<string, SandboxTemplate>();

  constructor(
    private readonly deps: {
      world: World;
      now: () => number;
      post: Post;
      customers: () => Customer[];
    },
  ) {}

  /** A template made at Meta (POST message_templates, a seed): no webhook. */
  add(template: Omit<SandboxTemplate, 'id'>): SandboxTemplate {
    const made = { ...template, id: this.deps.world.ids.digits(15) };
    this.byId.set(made.id, made);
    return made;
  }

  /** The live template (the Graph catalogue changes it in place). */
  get(templateId: string): SandboxTemplate | undefined {
    return this.byId.get(templateId);
  }

  remove(templateId: string): void {
    this.byId.delete(templateId);
  }

  list(wabaId?: string): SandboxTemplate[] {
    return [...this.byId.values()].filter((t) => wabaId === undefined || t.wabaId === wabaId).map((t) => ({ ...t }));
  }

  /** A status review of a template: message_template_status_update. */
  status(wabaId: string, input: TemplateStatusInput): { templateId: string; webhookId: number } {
    const template = input.templateId ? this.template(wabaId, input.templateId) : this.create(wabaId, input);
    if (!KEEPS_STATUS.has(input.event)) template.status = input.event === 'REINSTATED' ? 'APPROVED' : input.event;
    const reason = input.reason !== undefined ? input.reason : input.event === 'PENDING_DELETION' ? null : 'NONE';
    const value: Record<string, unknown> = {
      event: input.event,
      ...ids(template),
      reason,
      message_template_category: template.category,
      ...(input.event === 'DISABLED' ? { disable_info: { disable_date: this.seconds() } } : {}),
      ...(input.otherInfo ? { other_info: input.otherInfo } : {}),
      ...(input.rejectionInfo ? { rejection_info: input.rejectionInfo } : {}),
    };
    return this.postTemplate(template, 'message_template_status_update', value, input.event);
  }

  /** Meta recategorises a template (or announces it will, 24 hours ahead): template_category_update. */
  category(wabaId: string, input: TemplateCategoryInput): { templateId: string; webhookId: number } {
    const template = this.template(wabaId, input.templateId);
    let value: Record<string, unknown>;
    if (input.impending) {
      // new_category is the current category in an announcement; correct_category the one to come.
      value = {
        ...ids(template),
        correct_category: input.category,
        new_category: template.category,
        category_update_timestamp: this.seconds() + 86_400,
      };
    } else {
      value = { ...ids(template), previous_category: template.category, new_category: input.category };
      template.category = input.category;
    }
    return this.postTemplate(template, 'template_category_update', value, input.category);
  }

  /** The template's quality score changes: message_template_quality_update. */
  quality(wabaId: string, input: TemplateQualityInput): { templateId: string; webhookId: number } {
    const template = this.template(wabaId, input.templateId);
    const value = {
      previous_quality_score: template.qualityScore,
      new_quality_score: input.qualityScore,
      ...ids(template),
    };
    template.qualityScore = input.qualityScore;
    return this.postTemplate(template, 'message_template_quality_update', value, input.qualityScore);
  }

  /** A customer stops or resumes marketing messages from a number: user_preferences. */
  preference(number: PhoneNumber, input: PreferenceInput): { webhookId: number } {
    const waId = digitsOf(input.from);
    const customer = this.deps.customers().find((c) => c.phoneNumberId === number.id && c.waId === waId);
    if (!customer) throw Object.assign(new Error(`no customer ${waId} on ${number.id}`), { status: 404 });
    // As in messages webhooks: user_id always, wa_id only while the phone number may be shared.
    const waIdField = customer.username ? {} : { wa_id: customer.waId };
    const value = {
      messaging_product: 'whatsapp',
      metadata: { display_phone_number: digitsOf(number.displayPhoneNumber), phone_number_id: number.id },
      contacts: [
        {
          profile: { name: customer.name, ...(customer.username ? { username: customer.username } : {}) },
          ...waIdField,
          user_id: customer.bsuid,
        },
      ],
      user_preferences: [
        {
          ...waIdField,
          user_id: customer.bsuid,
          detail: `User requested to ${input.value} marketing messages`,
          category: 'marketing_messages',
          value: input.value,
          timestamp: input.timestamp ?? this.seconds(),
        },
      ],
    };
    // Meta's documented envelope for this field carries no entry.time.
    const payload = {
      object: 'whatsapp_business_account',
      entry: [{ id: number.wabaId, changes: [{ value, field: 'user_preferences' }] }],
    };
    const record = this.deps.post(
      { field: 'user_preferences', wabaId: number.wabaId, phoneNumberId: number.id, event: input.value },
      payload,
    );
    return { webhookId: record.webhookId };
  }

  private create(wabaId: string, input: TemplateStatusInput): SandboxTemplate {
    const template: SandboxTemplate = {
      id: this.deps.world.ids.digits(15),
      wabaId,
      name: input.name ?? `sandbox_template_${this.byId.size + 1}`,
      language: input.language ?? 'en_US',
      category: input.category ?? 'MARKETING',
      status: 'PENDING',
      qualityScore: 'UNKNOWN',
    };
    this.byId.set(template.id, template);
    return template;
  }

  private template(wabaId: string, templateId: string): SandboxTemplate {
    const template = this.byId.get(templateId);
    if (!template || template.wabaId !== wabaId)
      throw Object.assign(new Error(`no template ${templateId} in WABA ${wabaId}`), { status: 404 });
    return template;
  }

  private seconds(): number {
    return Math.floor(this.deps.now() / 1000);
  }

  private postTemplate(template: SandboxTemplate, field: string, value: Record<string, unknown>, event: string) {
    const payload = {
      object: 'whatsapp_business_account',
      entry: [{ id: template.wabaId, time: this.seconds(), changes: [{ value, field }] }],
    };
    const record = this.deps.post({ field, wabaId: template.wabaId, event }, payload);
    return { templateId: template.id, webhookId: record.webhookId };
  }
}

function ids(template: SandboxTemplate): Record<string, unknown> {
  return {
    message_template_id: Number(template.id),
    message_template_name: template.name,
    message_template_language: template.language,
  };
}
