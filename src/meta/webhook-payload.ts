// Meta's webhook body, parsed item by item: one malformed message never hides the valid ones next
// to it, and nothing here throws on a body that is valid JSON.
import { z } from 'zod';
import {
  parseEchoes,
  parseHistory,
  parseStateSync,
  type BusinessAppMessage,
  type ContactSync,
  type HistoryChunk,
} from './business-app-payload.js';
import {
  isTemplateField,
  parseTemplateChange,
  parseUserPreferences,
  type MarketingPreference,
  type TemplateEvent,
} from './template-payload.js';
import {
  fieldHandling,
  fieldLabel,
  isAccountEventField,
  WEBHOOK_OBJECT,
  type AccountEventField,
} from './webhook-fields.js';

export interface InboundMessage {
  wamid: string;
  phoneNumberId: string;
  displayPhoneNumber: string | null;
  wabaId: string | null;
  /** The customer's phone number (Meta's `from`); empty for a username user whose number is withheld. */
  from: string;
  contactName: string | null;
  /** The customer's business-scoped user id (`from_user_id`, `contacts[].user_id`), when Meta sends one. */
  fromUserId?: string | null;
  parentUserId?: string | null;
  username?: string | null;
  /** A system message saying the customer's phone number or BSUID changed. */
  identityChange?: IdentityChange | null;
  /** A revoke: the wamid of the customer's message it deletes (`revoke.original_message_id`). */
  revokedWamid?: string | null;
  /** An edit: the wamid of the message it changes (`edit.original_message_id`) and its new text. */
  edit?: MessageEdit | null;
  /** Meta's `group_id`: the message was written in a group the business number is part of. */
  groupId?: string | null;
  /** When the customer sent it (Meta's timestamp), in epoch milliseconds. */
  sentAt: number;
  type: string;
  text: string | null;
  /** The message object as Meta sent it (type-specific fields: image, location, reaction...). */
  content: Record<string, unknown>;
}

export interface MessageEdit {
  originalWamid: string;
  /** The edited text: a text message's body or a media message's caption; null when it has neither. */
  text: string | null;
}

export interface IdentityChange {
  kind: 'user_changed_number' | 'user_changed_user_id' | 'user_id_update';
  previousUserId: string | null;
  /** The new phone number (user_changed_number). */
  newPhone: string | null;
  newUserId: string | null;
  /** The new parent BSUID, where Meta reports one (user_id_update with parent BSUIDs enabled). */
  newParentUserId?: string | null;
}

/** A BSUID change reported on the `user_id_update` field: no message, no wamid, only the number it came to. */
export interface IdentityUpdate {
  phoneNumberId: string;
  wabaId: string | null;
  change: IdentityChange;
}

export interface StatusEvent {
  wamid: string;
  status: 'sent' | 'delivered' | 'read' | 'played' | 'failed';
  phoneNumberId: string;
  recipientId: string | null;
  recipientUserId?: string | null;
  /** `biz_opaque_callback_data` as we sent it: our outbound row id. */
  callbackData?: string | null;
  occurredAt: number;
  errors: MetaErrorItem[] | null;
  /** Meta's `pricing` object (sent, delivered or read statuses), as sent. */
  pricing?: Record<string, unknown> | null;
  /** Meta's `conversation` object (older API versions and free entry points), as sent. */
  conversation?: Record<string, unknown> | null;
}

/** One item of Meta's `errors` arrays; `details` is `error_data.details`, when Meta sends it. */
export interface MetaErrorItem {
  code: number | null;
  title: string | null;
  message: string | null;
  details?: string;
}

/** Errors Meta reports for a number as a whole (`value.errors` of a messages change), not for one message. */
export interface ChangeError {
  phoneNumberId: string;
  wabaId: string | null;
  error: MetaErrorItem;
}

export interface AccountEvent {
  field: AccountEventField;
  /** The account it is about: `value.waba_info.waba_id` for PARTNER_* events (addressed to the partner's business), else the entry id. */
  wabaId: string;
  /** The entry's id and time as Meta sent them (part of the event's identity). */
  entryId: string;
  entryTime: number | null;
  /** Meta's `value` for that field. */
  value: Record<string, unknown>;
}

export interface ParsedWebhook {
  messages: InboundMessage[];
  statuses: StatusEvent[];
  accountEvents: AccountEvent[];
  identityUpdates: IdentityUpdate[];
  /** `value.errors` of messages changes. Optional so that hand-built deliveries need not name it. */
  changeErrors?: ChangeError[];
  /** Coexistence numbers: the owner's messages from the app, the shared history and the owner's contacts. */
  echoes?: BusinessAppMessage[];
  historyMessages?: BusinessAppMessage[];
  historyChunks?: HistoryChunk[];
  contactSyncs?: ContactSync[];
  /** Template status, category and quality changes, and customers' marketing-message preferences. */
  templateEvents?: TemplateEvent[];
  userPreferences?: MarketingPreference[];
  /** Why parts were skipped, for the log line. */
  skipped: string[];
  /**
   * Changes per field label (`fieldLabel`: a listed name or `other`) and whether we process that
   * field, for the per-field counter. Optional so that hand-built deliveries need not name it.
   */
  fields?: Array<{ field: string; processed: boolean }>;
}

const id = z.string().min(1).max(256);
const epochSeconds = z
  .union([z.string().regex(/^\d{1,12}$/), z.number().int().nonnegative()])
  .transform((v) => Number(v) * 1000);

const userId = z.string().min(1).max(160);
const message = z.looseObject({
  id,
  from: z.string().max(64).optional(),
  from_user_id: userId.optional(),
  from_parent_user_id: userId.optional(),
  timestamp: epochSeconds,
  type: z.string().min(1).max(64),
  text: z.object({ body: z.string().max(65_536) }).optional(),
});

const metaError = z.looseObject({
  code: z.number().optional(),
  title: z.string().optional(),
  message: z.string().optional(),
  error_data: z.looseObject({ details: z.string().max(4096).optional() }).optional(),
});
const metaErrors = z.array(metaError).max(20);

const status = z.object({
  id,
  status: z.enum(['sent', 'delivered', 'read', 'played', 'failed']),
  timestamp: epochSeconds,
  recipient_id: z.string().max(64).optional(),
  recipient_user_id: z.string().max(160).optional(),
  biz_opaque_callback_data: z.string().max(512).optional(),
  errors: metaErrors.optional(),
  pricing: z.record(z.string(), z.unknown()).optional(),
  conversation: z.record(z.string(), z.unknown()).optional(),
});

const messagesValue = z.looseObject({
  metadata: z.looseObject({ phone_number_id: id, display_phone_number: z.string().max(64).optional() }),
  contacts: z
    .array(
      z.looseObject({
        wa_id: z.string().max(64).optional(),
        user_id: userId.optional(),
        parent_user_id: userId.optional(),
        profile: z
          .looseObject({ name: z.string().max(512).optional(), username: z.string().max(256).optional() })
          .optional(),
      }),
    )
    .optional(),
  messages: z.array(z.unknown()).optional(),
  statuses: z.array(z.unknown()).optional(),
  errors: z.array(z.unknown()).optional(),
});

// Meta's BSUID guide documents each item as {wa_id?, detail, user_id: {previous, current},
// parent_user_id?: {previous, current}, timestamp}; only the ids matter here.
const userIdUpdateValue = z.looseObject({
  metadata: z.looseObject({ phone_number_id: id }),
  user_id_update: z.array(z.unknown()).optional(),
});
const userIdUpdate = z.looseObject({
  user_id: z.looseObject({ previous: userId, current: userId }),
  parent_user_id: z.looseObject({ previous: userId.optional(), current: userId.optional() }).optional(),
});

const MAX_ITEMS = 10_000;

/**
 * Strings PostgreSQL can store: no NUL characters, no lone UTF-16 surrogates (both are valid JSON
 * but rejected by text and jsonb columns, which would make a message impossible to store).
 */
export function storable<T>(value: T): T {
  if (typeof value === 'string') return value.replaceAll('\u0000', '').toWellFormed() as T;
  if (Array.isArray(value)) return value.map(storable) as T;
  if (isRecord(value))
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [storable(k), storable(v)])) as T;
  return value;
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value.slice(0, MAX_ITEMS) : [];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function parseWebhook(raw: unknown): ParsedWebhook {
  const body = storable(raw);
  const out: ParsedWebhook = {
    messages: [],
    statuses: [],
    accountEvents: [],
    identityUpdates: [],
    changeErrors: [],
    skipped: [],
    fields: [],
  };
  if (!isRecord(body) || body.object !== WEBHOOK_OBJECT) {
    out.skipped.push('not a whatsapp_business_account payload');
    return out;
  }
  for (const entry of list(body.entry)) {
    if (!isRecord(entry)) {
      out.skipped.push('entry is not an object');
      continue;
    }
    const wabaId = typeof entry.id === 'string' && entry.id.length <= 256 ? entry.id : null;
    for (const change of list(entry.changes)) {
      if (!isRecord(change) || typeof change.field !== 'string') {
        out.skipped.push('change without a field');
        continue;
      }
      const label = fieldLabel(change.field);
      out.fields?.push({ field: label, processed: fieldHandling(label) === 'processed' });
      if (change.field === 'messages') parseMessagesChange(change.value, wabaId, out);
      else if (change.field === 'user_id_update') parseUserIdUpdate(change.value, wabaId, out);
      else if (change.field === 'smb_message_echoes') parseEchoes(change.value, wabaId, out);
      else if (change.field === 'history') parseHistory(change.value, wabaId, out);
      else if (change.field === 'smb_app_state_sync') parseStateSync(change.value, wabaId, out);
      else if (change.field === 'user_preferences') parseUserPreferences(change.value, wabaId, out);
      else if (isTemplateField(change.field))
        parseTemplateChange(change.field, change.value, { wabaId, time: entry.time }, out);
      else if (isAccountEventField(change.field) && wabaId && isRecord(change.value)) {
        const info = change.value.waba_info;
        const about =
          isRecord(info) && typeof info.waba_id === 'string' && info.waba_id.length <= 256 ? info.waba_id : wabaId;
        const time = typeof entry.time === 'number' && Number.isFinite(entry.time) ? entry.time : null;
        out.accountEvents.push({
          field: change.field,
          wabaId: about,
          entryId: wabaId,
          entryTime: time,
          value: change.value,
        });
      } else if (fieldHandling(label) !== 'acknowledged')
        // Only the label: an unlisted field's name is whatever the sender wrote.
        out.skipped.push(`field ${label} not handled`);
    }
  }
  return out;
}

function parseMessagesChange(raw: unknown, wabaId: string | null, out: ParsedWebhook): void {
  const value = messagesValue.safeParse(raw);
  if (!value.success) {
    out.skipped.push('messages change without metadata.phone_number_id');
    return;
  }
  const { metadata } = value.data;
  const contacts = value.data.contacts ?? [];
  // The contact of a message: the one with its phone or its BSUID, or the only one there is.
  const contactOf = (from: string, fromUserId: string | undefined) =>
    contacts.find((c) => (from && c.wa_id === from) || (fromUserId && c.user_id === fromUserId)) ??
    (contacts.length === 1 ? contacts[0] : undefined);

  for (const item of list(value.data.messages)) {
    const parsed = message.safeParse(item);
    if (!parsed.success || (!parsed.data.from && !parsed.data.from_user_id)) {
      out.skipped.push('message without id, from (or from_user_id), timestamp or type');
      continue;
    }
    const m = parsed.data;
    const contact = contactOf(m.from ?? '', m.from_user_id);
    const phone = m.from || contact?.wa_id || '';
    out.messages.push({
      wamid: m.id,
      phoneNumberId: metadata.phone_number_id,
      displayPhoneNumber: metadata.display_phone_number ?? null,
      wabaId,
      from: phone,
      contactName: contact?.profile?.name ?? null,
      fromUserId: m.from_user_id ?? contact?.user_id ?? null,
      parentUserId: m.from_parent_user_id ?? contact?.parent_user_id ?? null,
      username: contact?.profile?.username ?? null,
      identityChange: m.type === 'system' ? identityChangeOf(item) : null,
      revokedWamid: m.type === 'revoke' ? revokedWamidOf(item) : null,
      edit: m.type === 'edit' ? editOf(item) : null,
      groupId: groupIdOf(item),
      sentAt: m.timestamp,
      type: m.type,
      text: m.text?.body ?? null,
      content: item as Record<string, unknown>,
    });
  }
  for (const item of list(value.data.statuses)) {
    const parsed = status.safeParse(item);
    if (!parsed.success) {
      out.skipped.push('status without id, known status or timestamp');
      continue;
    }
    const s = parsed.data;
    out.statuses.push({
      wamid: s.id,
      status: s.status,
      phoneNumberId: metadata.phone_number_id,
      recipientId: s.recipient_id || null,
      recipientUserId: s.recipient_user_id || null,
      callbackData: s.biz_opaque_callback_data ?? null,
      occurredAt: s.timestamp,
      errors: s.errors ? s.errors.map(errorItem) : null,
      ...(s.pricing ? { pricing: s.pricing } : {}),
      ...(s.conversation ? { conversation: s.conversation } : {}),
    });
  }
  // Meta's errors webhook: problems that stopped a request, reported for the number, not a message.
  for (const item of list(value.data.errors)) {
    const parsed = metaError.safeParse(item);
    if (!parsed.success) {
      out.skipped.push('change error that is not an object');
      continue;
    }
    out.changeErrors?.push({ phoneNumberId: metadata.phone_number_id, wabaId, error: errorItem(parsed.data) });
  }
}

function errorItem(e: z.infer<typeof metaError>): MetaErrorItem {
  const details = e.error_data?.details;
  return {
    code: e.code ?? null,
    title: e.title ?? null,
    message: e.message ?? null,
    ...(details !== undefined ? { details } : {}),
  };
}

function parseUserIdUpdate(raw: unknown, wabaId: string | null, out: ParsedWebhook): void {
  const value = userIdUpdateValue.safeParse(raw);
  if (!value.success) {
    out.skipped.push('user_id_update change without metadata.phone_number_id');
    return;
  }
  for (const item of list(value.data.user_id_update)) {
    const parsed = userIdUpdate.safeParse(item);
    if (!parsed.success) {
      out.skipped.push('user_id_update without user_id.previous and user_id.current');
      continue;
    }
    out.identityUpdates.push({
      phoneNumberId: value.data.metadata.phone_number_id,
      wabaId,
      change: {
        kind: 'user_id_update',
        previousUserId: parsed.data.user_id.previous,
        // wa_id is the number the user has now, not a change of it: the row keeps its phone.
        newPhone: null,
        newUserId: parsed.data.user_id.current,
        newParentUserId: parsed.data.parent_user_id?.current ?? null,
      },
    });
  }
}

// Meta's edit webhook: `edit.original_message_id` and `edit.message`, a message object of its own
// (`type` and the object of that type: text with `body`, media with `caption`).
function editOf(item: unknown): MessageEdit | null {
  if (!isRecord(item) || !isRecord(item.edit)) return null;
  const original = id.safeParse(item.edit.original_message_id);
  if (!original.success) return null;
  const edited = item.edit.message;
  let text: string | null = null;
  if (isRecord(edited) && typeof edited.type === 'string' && isRecord(edited[edited.type])) {
    const content = edited[edited.type] as Record<string, unknown>;
    const value = edited.type === 'text' ? content.body : content.caption;
    if (typeof value === 'string' && value.length <= 65_536) text = value;
  }
  return { originalWamid: original.data, text };
}

function groupIdOf(item: unknown): string | null {
  if (!isRecord(item)) return null;
  const group = id.safeParse(item.group_id);
  return group.success ? group.data : null;
}

function revokedWamidOf(item: unknown): string | null {
  if (!isRecord(item) || !isRecord(item.revoke)) return null;
  const original = id.safeParse(item.revoke.original_message_id);
  return original.success ? original.data : null;
}

const IDENTITY_CHANGES = new Set(['user_changed_number', 'user_changed_user_id']);

/** Meta reports a changed phone number or BSUID as a system message on the messages field. */
function identityChangeOf(item: unknown): IdentityChange | null {
  if (!isRecord(item) || !isRecord(item.system)) return null;
  const system = item.system;
  if (typeof system.type !== 'string' || !IDENTITY_CHANGES.has(system.type)) return null;
  const text = (value: unknown, max: number) =>
    typeof value === 'string' && value.length > 0 && value.length <= max ? value : null;
  return {
    kind: system.type as IdentityChange['kind'],
    previousUserId: text(system.previous_user_id, 160),
    newPhone: system.type === 'user_changed_number' ? text(system.wa_id, 64) : null,
    newUserId: text(system.user_id, 160) ?? text(item.from_user_id, 160),
  };
}
