// Messages in PostgreSQL: inbound ones stored once per wamid, the reply row that guards against a
// second send, the conversation order gate, and Meta's delivery statuses.
import type { Knex } from 'knex';
import type { Db } from '../db.js';
import type { ChangeError, InboundMessage, MessageEdit, StatusEvent } from '../meta/webhook-payload.js';
import { activeNumberOwners } from './integrations.js';
import type { IntegrationSettings, MessageRow } from './tables.js';

/** `received` is waiting for its turn; every other inbound status is terminal. */
export type InboundStatus =
  'received' | 'replied' | 'covered' | 'no_reply' | 'unanswered' | 'agent' | 'ignored' | 'failed' | 'rejected';
export type OutboundStatus =
  'pending' | 'sending' | 'unknown' | 'accepted' | 'sent' | 'delivered' | 'read' | 'played' | 'failed';

/** Statuses only move forward along this order (failed records its error and ends it). */
const OUTBOUND_ORDER: OutboundStatus[] = [
  'pending',
  'sending',
  'unknown',
  'accepted',
  'sent',
  'delivered',
  'read',
  'played',
  'failed',
];
const TERMINAL_INBOUND: InboundStatus[] = [
  'replied',
  'covered',
  'no_reply',
  'unanswered',
  'agent',
  'ignored',
  'failed',
  'rejected',
];

export interface InboundContext {
  messageId: number;
  status: InboundStatus;
  /** True when this wamid was already stored (a redelivery). */
  duplicate: boolean;
  integration: { id: string; businessId: string; state: string; settings: IntegrationSettings } | null;
}

/** Stores an inbound message once (unique wamid); a message for an unknown number is stored as ignored. */
export async function storeInboundMessage(db: Db, message: InboundMessage): Promise<InboundContext> {
  const found = (await activeNumberOwners(db, [message.phoneNumberId])).get(message.phoneNumberId);
  const integration = found
    ? { id: found.integrationId, businessId: found.businessId, state: found.state, settings: found.settings }
    : null;
  const [inserted] = await db('messages')
    .insert({
      direction: 'inbound',
      wamid: message.wamid,
      integration_id: integration?.id ?? null,
      business_id: integration?.businessId ?? null,
      phone_number_id: message.phoneNumberId,
      customer_wa_id: message.from,
      customer_name: message.contactName,
      type: message.type,
      body: message.text,
      content: message.content,
      sent_at: new Date(message.sentAt),
      status: integration ? 'received' : 'ignored',
      error: integration ? null : { reason: 'no_active_integration' },
    })
    .onConflict(db.raw('(wamid) WHERE wamid IS NOT NULL'))
    .ignore()
    .returning(['id', 'status', 'integration_id']);
  const row =
    inserted ?? (await db('messages').where({ wamid: message.wamid }).first('id', 'status', 'integration_id'));
  if (!row) throw new Error('inbound message vanished between insert and read');
  // A redelivery belongs to the integration that received the first delivery.
  const owner = row.integration_id === (integration?.id ?? null) ? integration : null;
  return { messageId: row.id, status: row.status as InboundStatus, duplicate: !inserted, integration: owner };
}

export async function setInboundStatus(
  db: Db,
  messageId: number,
  status: InboundStatus,
  error: Record<string, unknown> | null = null,
): Promise<void> {
  await db('messages')
    .where({ id: messageId, direction: 'inbound' })
    .whereNotIn(
      'status',
      TERMINAL_INBOUND.filter((s) => s !== status),
    )
    .update({ status, error, updated_at: new Date() });
}

export async function isOurMessage(db: Db, wamid: string): Promise<boolean> {
  return Boolean(await db('messages').where({ wamid, direction: 'outbound' }).first('id'));
}

/**
 * True while an earlier message of the same conversation (by the customer's send time) still
 * waits for its reply: replies then go out in the order the customer wrote. Only recent messages
 * count, so one stuck message can delay its successors for a bounded time only.
 */
export async function earlierMessagePending(
  db: Db | Knex.Transaction,
  inbound: MessageRow,
  horizonMs = 10 * 60 * 1000,
): Promise<boolean> {
  const row = await db('messages')
    .where({ direction: 'inbound', phone_number_id: inbound.phone_number_id, customer_wa_id: inbound.customer_wa_id })
    .whereNotIn('status', TERMINAL_INBOUND)
    .andWhere(
      (q) =>
        void q
          .where('sent_at', '<', inbound.sent_at)
          .orWhere((q2) => void q2.where('sent_at', inbound.sent_at).andWhere('id', '<', inbound.id)),
    )
    .andWhere('created_at', '>', new Date(Date.now() - horizonMs))
    .first('id');
  return Boolean(row);
}

export function outboundStatusesBelow(status: OutboundStatus): OutboundStatus[] {
  return OUTBOUND_ORDER.slice(0, OUTBOUND_ORDER.indexOf(status));
}

/** Records Meta's statuses once each and moves the matching reply rows forward. */
export async function recordStatuses(db: Db, events: StatusEvent[]): Promise<{ recorded: number; applied: number }> {
  let recorded = 0;
  let applied = 0;
  for (const event of events) {
    const inserted = await db('message_statuses')
      .insert({
        wamid: event.wamid,
        status: event.status,
        phone_number_id: event.phoneNumberId,
        recipient_id: event.recipientId,
        occurred_at: new Date(event.occurredAt),
        errors: event.errors ? JSON.stringify(event.errors) : null,
      })
      .onConflict(['wamid', 'status'])
      .ignore()
      .returning('wamid');
    recorded += inserted.length;
    applied += await applyStatus(db, event.wamid, event.status, event.errors);
  }
  return { recorded, applied };
}

async function applyStatus(
  db: Db | Knex.Transaction,
  wamid: string,
  status: StatusEvent['status'],
  errors: StatusEvent['errors'],
): Promise<number> {
  return db('messages')
    .where({ wamid, direction: 'outbound' })
    .whereIn('status', outboundStatusesBelow(status))
    .update({ status, ...(status === 'failed' ? { error: { statuses: errors } } : {}), updated_at: new Date() });
}

/** Applies statuses that arrived before the reply row knew its wamid. */
export async function applyEarlyStatuses(
  db: Db | Knex.Transaction,
  wamid: string,
  options: { locked?: boolean } = {},
): Promise<void> {
  // Serialises with the intake of a status for this wamid: one of the two sees the other's row.
  // A caller that already holds the lock in this transaction says so.
  if (!options.locked) await lockWamid(db, wamid);
  const early = await db('message_statuses').where({ wamid });
  for (const status of OUTBOUND_ORDER) {
    const event = early.find((e) => e.status === status);
    if (event) await applyStatus(db, wamid, event.status, event.errors);
  }
}

/**
 * Records that Meta accepted a send of ours (a reply or a business's send), with the wamid lock
 * held: the row moves to accepted only from where it was before Meta's answer, so a status that
 * beat the answer here (found by the row id we sent as callback data) keeps its state and its
 * error, then statuses that arrived by wamid alone are applied. Returns the row's turn.
 */
export async function recordAccepted(
  trx: Knex.Transaction,
  outboundId: number,
  wamid: string,
): Promise<{ turnId: number | null }> {
  await lockWamid(trx, wamid);
  const now = new Date();
  const before = `status IN ('pending', 'sending', 'unknown')`;
  const [row] = await trx('messages')
    .where({ id: outboundId })
    .update({
      wamid,
      status: trx.raw(`CASE WHEN ${before} THEN 'accepted' ELSE status END`),
      error: trx.raw(`CASE WHEN ${before} THEN NULL ELSE error END`),
      sent_at: now,
      updated_at: now,
    })
    .returning('turn_id');
  await applyEarlyStatuses(trx, wamid, { locked: true });
  return { turnId: (row as { turn_id: number | null } | undefined)?.turn_id ?? null };
}

/** A transaction-scoped lock per wamid, shared by status intake and by recording a send's wamid. */
export async function lockWamid(db: Db | Knex.Transaction, wamid: string): Promise<void> {
  await db.raw('SELECT pg_advisory_xact_lock(hashtext(?))', [`wamid:${wamid}`]);
}

/**
 * Applies a customer's edit to the message it names, in the edit's own conversation (an edit can
 * only change the sender's own message). `original_body` keeps the text from before the first edit;
 * the message's `content` stays exactly as Meta first sent it. An edit without text (Meta documents
 * text and media captions as editable) changes nothing but `edited_at`.
 */
export async function applyEdit(
  trx: Knex.Transaction,
  conversationId: number,
  edit: MessageEdit,
  at: Date,
): Promise<boolean> {
  const updated = await trx('messages')
    .where({ wamid: edit.originalWamid, direction: 'inbound', conversation_id: conversationId })
    .update({
      original_body: trx.raw('COALESCE(original_body, body)'),
      body: trx.raw('COALESCE(?::text, body)', [edit.text]),
      edited_at: at,
      updated_at: new Date(),
    });
  return updated > 0;
}

/** Marks the message a revoke names as deleted by the customer; the row stays for the history. */
export async function markRevoked(
  trx: Knex.Transaction,
  conversationId: number,
  wamid: string,
  at: Date,
): Promise<void> {
  await trx('messages')
    .where({ wamid, direction: 'inbound', conversation_id: conversationId })
    .whereNull('revoked_at')
    .update({ revoked_at: at, updated_at: new Date() });
}

/** Keeps the errors Meta reported for a number as a whole (its errors webhook). */
export async function recordChangeError(trx: Knex.Transaction, item: ChangeError): Promise<void> {
  await trx('webhook_errors').insert({
    phone_number_id: item.phoneNumberId,
    waba_id: item.wabaId,
    code: item.error.code,
    title: item.error.title,
    message: item.error.message,
    details: item.error.details ?? null,
  });
}

/** Where a message came from as the API shows it: a bot's reply is `reply`, else the stored origin. */
export function originOf(m: Pick<MessageRow, 'direction' | 'origin' | 'turn_id' | 'in_reply_to'>): string {
  return m.direction === 'outbound' && m.origin === 'cloud_api' && (m.turn_id !== null || m.in_reply_to !== null)
    ? 'reply'
    : m.origin;
}

/** The business's messages, newest first: `limit` of them, older than message `before` when given. */
export async function messagesOfBusiness(
  db: Db,
  businessId: string,
  page: { limit: number; before?: number | undefined },
): Promise<MessageRow[]> {
  const query = db('messages').where({ business_id: businessId }).orderBy('id', 'desc').limit(page.limit);
  if (page.before !== undefined) query.andWhere('id', '<', page.before);
  return query;
}
