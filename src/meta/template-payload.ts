// Meta's template webhooks and the user_preferences webhook, parsed item by item like the
// messages field: a malformed change or item is skipped with a reason, never thrown.
//
// Shapes, as Meta documents them (value of the change; entry.id is the WABA, entry.time the trigger time):
// https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/message_template_status_update
//   {event, message_template_id: <integer>, message_template_name, message_template_language, reason,
//    message_template_category?, disable_info?: {disable_date}, other_info?: {title, description},
//    rejection_info?: {reason, recommendation}}
// https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/template_category_update
//   {message_template_id, message_template_name, message_template_language,
//    impending: correct_category, new_category (the current one), category_update_timestamp;
//    completed: previous_category, new_category}
// https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/message_template_quality_update
//   {previous_quality_score, new_quality_score (GREEN|YELLOW|RED|UNKNOWN), message_template_id, _name, _language}
// https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/user_preferences
//   {messaging_product, metadata: {display_phone_number, phone_number_id}, contacts: [{profile: {name}, wa_id}],
//    user_preferences: [{wa_id, detail, category: "marketing_messages", value: "stop"|"resume", timestamp}]}
//   With business-scoped user ids, contacts and items carry `user_id` (and `parent_user_id`), and
//   `wa_id` is left out when the user's phone number is withheld, as in the messages field.
import { z } from 'zod';
import type { ParsedWebhook } from './webhook-payload.js';

export const TEMPLATE_FIELDS = [
  'message_template_status_update',
  'template_category_update',
  'message_template_quality_update',
] as const;
export type TemplateField = (typeof TEMPLATE_FIELDS)[number];

export function isTemplateField(field: string): field is TemplateField {
  return (TEMPLATE_FIELDS as readonly string[]).includes(field);
}

/** One change of a template field, with what Meta sent in columns of their own and the value as sent. */
export interface TemplateEvent {
  field: TemplateField;
  wabaId: string;
  /** entry.time, epoch ms, when Meta sent it. */
  occurredAt: number | null;
  templateId: string;
  name: string | null;
  language: string | null;
  /** message_template_status_update's `event`. */
  event: string | null;
  reason: string | null;
  category: string | null;
  previousCategory: string | null;
  newCategory: string | null;
  correctCategory: string | null;
  categoryUpdateAt: number | null;
  previousQualityScore: string | null;
  newQualityScore: string | null;
  otherInfo: Record<string, unknown> | null;
  rejectionInfo: Record<string, unknown> | null;
  disableDate: number | null;
  value: Record<string, unknown>;
}

/** A customer stopped or resumed marketing messages from a business number. */
export interface MarketingPreference {
  phoneNumberId: string;
  wabaId: string | null;
  phone: string | null;
  bsuid: string | null;
  parentBsuid: string | null;
  name: string | null;
  value: 'stop' | 'resume';
  category: string;
  detail: string | null;
  /** Meta's timestamp, epoch ms. */
  occurredAt: number;
}

const MAX_ITEMS = 10_000;
const label = z.string().min(1).max(256);
const optionalText = (max: number) =>
  z
    .string()
    .max(max)
    .nullish()
    .transform((v) => (v ? v : null));
const epochSeconds = z
  .union([z.string().regex(/^\d{1,12}$/), z.number().int().nonnegative()])
  .transform((v) => Number(v) * 1000);
// An integer in Meta's webhooks; a string of digits is read too.
const templateId = z
  .union([z.number().int().nonnegative(), z.string().regex(/^\d{1,32}$/)])
  .transform((v) => (typeof v === 'number' ? BigInt(v).toString() : v));
const object = z.record(z.string(), z.unknown());
const userId = z.string().min(1).max(160);
const phone = z.string().max(64);

const templateValue = z.looseObject({
  message_template_id: templateId,
  message_template_name: optionalText(512),
  message_template_language: optionalText(32),
});
const statusValue = z.looseObject({
  event: label,
  reason: optionalText(1024),
  message_template_category: optionalText(64),
  disable_info: z.looseObject({ disable_date: epochSeconds.optional() }).optional(),
  other_info: object.optional(),
  rejection_info: object.optional(),
});
const categoryValue = z.looseObject({
  new_category: optionalText(64),
  previous_category: optionalText(64),
  correct_category: optionalText(64),
  category_update_timestamp: epochSeconds.optional(),
});
const qualityValue = z.looseObject({
  new_quality_score: label,
  previous_quality_score: optionalText(64),
});

const preferencesValue = z.looseObject({
  metadata: z.looseObject({ phone_number_id: label }),
  contacts: z
    .array(
      z.looseObject({
        wa_id: phone.optional(),
        user_id: userId.optional(),
        parent_user_id: userId.optional(),
        profile: z.looseObject({ name: z.string().max(512).optional() }).optional(),
      }),
    )
    .max(MAX_ITEMS)
    .optional()
    .catch(undefined),
  user_preferences: z.array(z.unknown()).optional(),
});
const preference = z.looseObject({
  wa_id: phone.optional(),
  user_id: userId.optional(),
  parent_user_id: userId.optional(),
  category: label,
  value: z.enum(['stop', 'resume']),
  detail: optionalText(1024),
  timestamp: epochSeconds,
});

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

export function parseTemplateChange(
  field: TemplateField,
  raw: unknown,
  entry: { wabaId: string | null; time: unknown },
  out: ParsedWebhook,
): void {
  const base = templateValue.safeParse(raw);
  if (!base.success || !entry.wabaId || !isRecord(raw)) {
    out.skipped.push(`${field} change without an entry id or message_template_id`);
    return;
  }
  const event: TemplateEvent = {
    field,
    wabaId: entry.wabaId,
    occurredAt:
      typeof entry.time === 'number' && Number.isFinite(entry.time) && entry.time > 0 ? entry.time * 1000 : null,
    templateId: base.data.message_template_id,
    name: base.data.message_template_name,
    language: base.data.message_template_language,
    event: null,
    reason: null,
    category: null,
    previousCategory: null,
    newCategory: null,
    correctCategory: null,
    categoryUpdateAt: null,
    previousQualityScore: null,
    newQualityScore: null,
    otherInfo: null,
    rejectionInfo: null,
    disableDate: null,
    value: raw,
  };
  if (field === 'message_template_status_update') {
    const value = statusValue.safeParse(raw);
    if (!value.success) return void out.skipped.push('message_template_status_update change without an event');
    Object.assign(event, {
      event: value.data.event,
      reason: value.data.reason,
      category: value.data.message_template_category,
      otherInfo: value.data.other_info ?? null,
      rejectionInfo: value.data.rejection_info ?? null,
      disableDate: value.data.disable_info?.disable_date ?? null,
    });
  } else if (field === 'template_category_update') {
    const value = categoryValue.safeParse(raw);
    if (!value.success || !value.data.new_category)
      return void out.skipped.push('template_category_update change without new_category');
    Object.assign(event, {
      newCategory: value.data.new_category,
      previousCategory: value.data.previous_category,
      correctCategory: value.data.correct_category,
      categoryUpdateAt: value.data.category_update_timestamp ?? null,
    });
  } else {
    const value = qualityValue.safeParse(raw);
    if (!value.success)
      return void out.skipped.push('message_template_quality_update change without new_quality_score');
    Object.assign(event, {
      newQualityScore: value.data.new_quality_score,
      previousQualityScore: value.data.previous_quality_score,
    });
  }
  (out.templateEvents ??= []).push(event);
}

export function parseUserPreferences(raw: unknown, wabaId: string | null, out: ParsedWebhook): void {
  const value = preferencesValue.safeParse(raw);
  if (!value.success) return void out.skipped.push('user_preferences change without metadata.phone_number_id');
  const contacts = value.data.contacts ?? [];
  for (const item of value.data.user_preferences?.slice(0, MAX_ITEMS) ?? []) {
    const parsed = preference.safeParse(item);
    const phoneOf = (v: string | undefined) => (v ? v.replace(/\D/g, '') || null : null);
    const waId = parsed.success ? phoneOf(parsed.data.wa_id) : null;
    if (!parsed.success || (!waId && !parsed.data.user_id)) {
      out.skipped.push('user_preferences item without wa_id (or user_id), category, value or timestamp');
      continue;
    }
    const p = parsed.data;
    const contact =
      contacts.find((c) => (waId && phoneOf(c.wa_id) === waId) || (p.user_id && c.user_id === p.user_id)) ??
      (contacts.length === 1 ? contacts[0] : undefined);
    (out.userPreferences ??= []).push({
      phoneNumberId: value.data.metadata.phone_number_id,
      wabaId,
      phone: waId ?? phoneOf(contact?.wa_id),
      bsuid: p.user_id ?? contact?.user_id ?? null,
      parentBsuid: p.parent_user_id ?? contact?.parent_user_id ?? null,
      name: contact?.profile?.name || null,
      value: p.value,
      category: p.category,
      detail: p.detail,
      occurredAt: p.timestamp,
    });
  }
}
