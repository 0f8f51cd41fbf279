// The webhooks of numbers that stay on the WhatsApp Business app (coexistence): the owner's own
// messages (smb_message_echoes), the chat history the owner shared (history) and the owner's
// contacts (smb_app_state_sync). Parsed item by item, like the messages field; nothing here throws.
//
// Shapes, as Meta documents them:
// https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/smb_message_echoes
//   value.message_echoes[] = {from: <business number>, to: <customer>, id, timestamp, type, <type>: {...}}
// https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/history
//   value.history[] = {metadata: {phase, chunk_order, progress}, threads: [{id: <customer>, messages: [
//     {from, to? (only when the business sent it), id, timestamp, type, <type>: {...}, history_context: {status}}]}]}
//   or, when the owner declined to share: value.history[] = {errors: [{code: 2593109, title, message, error_data}]}
// https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/smb_app_state_sync
//   value.state_sync[] = {type: 'contact', contact: {full_name?, first_name?, phone_number}, action: add|remove,
//     metadata: {timestamp}}
import { z } from 'zod';
import type { MetaErrorItem, ParsedWebhook } from './webhook-payload.js';

/** A message of a coexistence number that the Cloud API did not carry: an owner's echo or a history item. */
export interface BusinessAppMessage {
  wamid: string;
  phoneNumberId: string;
  wabaId: string | null;
  /** The customer's phone number (digits): the echo's `to`, the history thread's id. */
  customer: string;
  direction: 'inbound' | 'outbound';
  sentAt: number;
  type: string;
  text: string | null;
  content: Record<string, unknown>;
  /** Meta's `history_context.status` of a history item (DELIVERED, READ, ...). */
  historyStatus?: string | null;
}

/** One history webhook's progress report (or the owner's refusal, with Meta's errors). */
export interface HistoryChunk {
  phoneNumberId: string;
  wabaId: string | null;
  phase: number | null;
  chunkOrder: number | null;
  progress: number | null;
  errors: MetaErrorItem[] | null;
  messages: number;
}

export interface ContactSync {
  phoneNumberId: string;
  wabaId: string | null;
  /** The contact's phone number (digits). */
  phone: string;
  fullName: string | null;
  firstName: string | null;
  action: 'add' | 'remove';
}

const MAX_ITEMS = 10_000;
const id = z.string().min(1).max(256);
const epochSeconds = z
  .union([z.string().regex(/^\d{1,12}$/), z.number().int().nonnegative()])
  .transform((v) => Number(v) * 1000);
const phone = z
  .string()
  .max(64)
  .transform((v) => v.replace(/\D/g, ''))
  .pipe(z.string().min(1));
const count = z.union([z.number(), z.string().regex(/^\d{1,6}$/)]).transform(Number);

const metadata = z.looseObject({ phone_number_id: id });
const item = z.looseObject({
  id,
  from: z.string().max(64).optional(),
  to: z.string().max(64).optional(),
  timestamp: epochSeconds,
  type: z.string().min(1).max(64),
});
const metaError = z.looseObject({
  code: z.number().optional(),
  title: z.string().optional(),
  message: z.string().optional(),
  error_data: z.looseObject({ details: z.string().max(4096).optional() }).optional(),
});
const historyEntry = z.looseObject({
  metadata: z
    .looseObject({ phase: count.optional(), chunk_order: count.optional(), progress: count.optional() })
    .optional(),
  threads: z.array(z.looseObject({ id: phone, messages: z.array(z.unknown()).optional() })).optional(),
  errors: z.array(metaError).max(20).optional(),
});
const stateSync = z.looseObject({
  type: z.literal('contact'),
  contact: z.looseObject({
    phone_number: phone,
    full_name: z.string().max(512).optional(),
    first_name: z.string().max(512).optional(),
  }),
  action: z.enum(['add', 'remove']),
});

const list = (value: unknown): unknown[] => (Array.isArray(value) ? value.slice(0, MAX_ITEMS) : []);
const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The text a message carries: a text's body, a media message's caption. */
function textOf(content: Record<string, unknown>, type: string): string | null {
  const body = content[type];
  if (!isRecord(body)) return null;
  const value = type === 'text' ? body.body : body.caption;
  return typeof value === 'string' && value.length <= 65_536 ? value : null;
}

function messageOf(
  raw: unknown,
  where: { phoneNumberId: string; wabaId: string | null },
  customer: string,
  direction: 'inbound' | 'outbound',
): BusinessAppMessage | null {
  const parsed = item.safeParse(raw);
  if (!parsed.success) return null;
  const content = raw as Record<string, unknown>;
  const context = content.history_context;
  return {
    wamid: parsed.data.id,
    ...where,
    customer,
    direction,
    sentAt: parsed.data.timestamp,
    type: parsed.data.type,
    text: textOf(content, parsed.data.type),
    content,
    ...(isRecord(context) && typeof context.status === 'string' ? { historyStatus: context.status.slice(0, 32) } : {}),
  };
}

export function parseEchoes(raw: unknown, wabaId: string | null, out: ParsedWebhook): void {
  const value = z.looseObject({ metadata }).safeParse(raw);
  if (!value.success) return void out.skipped.push('smb_message_echoes change without metadata.phone_number_id');
  const where = { phoneNumberId: value.data.metadata.phone_number_id, wabaId };
  for (const echo of list((raw as Record<string, unknown>).message_echoes)) {
    const to = phone.safeParse(isRecord(echo) ? echo.to : undefined);
    const message = to.success ? messageOf(echo, where, to.data, 'outbound') : null;
    if (!message) out.skipped.push('message echo without id, to, timestamp or type');
    else (out.echoes ??= []).push(message);
  }
}

export function parseHistory(raw: unknown, wabaId: string | null, out: ParsedWebhook): void {
  const value = z.looseObject({ metadata }).safeParse(raw);
  if (!value.success) return void out.skipped.push('history change without metadata.phone_number_id');
  const where = { phoneNumberId: value.data.metadata.phone_number_id, wabaId };
  for (const rawEntry of list((raw as Record<string, unknown>).history)) {
    const entry = historyEntry.safeParse(rawEntry);
    if (!entry.success) {
      out.skipped.push('history item without threads or errors');
      continue;
    }
    let messages = 0;
    for (const thread of entry.data.threads ?? []) {
      for (const rawMessage of list(thread.messages)) {
        const from = isRecord(rawMessage) && typeof rawMessage.from === 'string' ? rawMessage.from : '';
        // `to` is there only when the business sent it; otherwise the sender is the thread's customer.
        const sentByCustomer =
          !(isRecord(rawMessage) && rawMessage.to !== undefined) && from.replace(/\D/g, '') === thread.id;
        const message = messageOf(rawMessage, where, thread.id, sentByCustomer ? 'inbound' : 'outbound');
        if (!message) out.skipped.push('history message without id, timestamp or type');
        else {
          (out.historyMessages ??= []).push(message);
          messages += 1;
        }
      }
    }
    const meta = entry.data.metadata;
    (out.historyChunks ??= []).push({
      ...where,
      phase: meta?.phase ?? null,
      chunkOrder: meta?.chunk_order ?? null,
      progress: meta?.progress ?? null,
      errors: entry.data.errors
        ? entry.data.errors.map((e) => ({
            code: e.code ?? null,
            title: e.title ?? null,
            message: e.message ?? null,
            ...(e.error_data?.details !== undefined ? { details: e.error_data.details } : {}),
          }))
        : null,
      messages,
    });
  }
}

export function parseStateSync(raw: unknown, wabaId: string | null, out: ParsedWebhook): void {
  const value = z.looseObject({ metadata }).safeParse(raw);
  if (!value.success) return void out.skipped.push('smb_app_state_sync change without metadata.phone_number_id');
  for (const rawItem of list((raw as Record<string, unknown>).state_sync)) {
    const parsed = stateSync.safeParse(rawItem);
    if (!parsed.success) {
      out.skipped.push('state_sync item that is not a contact with a phone number and action');
      continue;
    }
    (out.contactSyncs ??= []).push({
      phoneNumberId: value.data.metadata.phone_number_id,
      wabaId,
      phone: parsed.data.contact.phone_number,
      fullName: parsed.data.contact.full_name ?? null,
      firstName: parsed.data.contact.first_name ?? null,
      action: parsed.data.action,
    });
  }
}
