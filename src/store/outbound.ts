// Sends the business starts (API and template sends): one outbound row per (business, idempotency
// key hash), written together with its SendMessage start in the outbox, so a request answered 202
// is never lost. The row is reserved before each call to Meta and completed with Meta's id after;
// Meta echoes the row id (biz_opaque_callback_data) in every status, which settles an unknown outcome.
import type { Knex } from 'knex';
import type { Db } from '../db.js';
import { addressOf, kindOf, templateLanguage, type SendRequest } from '../meta/outbound-message.js';
import { recordAccepted } from './messages.js';
import { conversationsOf } from './conversations.js';
import { insertStarts, type NewStart, type PendingStart } from './outbox.js';
import type { PacedNumber, SendPriority } from './pacer.js';
import type { MessageRow, MessageStatusRow } from './tables.js';
import { findSendableTemplate, templateSendProblem } from './templates.js';

type Tx = Db | Knex.Transaction;

/** Meta's 24-hour customer service window. */
const SERVICE_WINDOW_MS = 24 * 3600 * 1000;

export interface SendingNumber {
  phoneNumberId: string;
  integrationId: string;
  wabaId: string;
}

/** The business's active numbers, the ones it may send from. */
export async function sendingNumbers(db: Db, businessId: string): Promise<SendingNumber[]> {
  return db('whatsapp_phone_numbers as n')
    .join('channel_integrations as i', 'i.id', 'n.integration_id')
    .where({ 'i.business_id': businessId, 'i.is_active': true, 'n.is_active': true })
    .orderBy('n.phone_number_id')
    .select('n.phone_number_id as phoneNumberId', 'i.id as integrationId', 'n.waba_id as wabaId');
}

export interface NewSend {
  keyHash: string;
  requestHash: string;
  request: SendRequest;
  number: SendingNumber;
  /** A person's send (origin agent): the agent's id. */
  agentId: string | null;
  /** Builds the workflow start once the row id is known. */
  start: (outboundId: number) => NewStart;
}

export type Accepted =
  | { kind: 'accepted'; row: MessageRow; created: boolean; start?: PendingStart | undefined }
  | { kind: 'key_reused'; row: MessageRow };

/** Writes each send's row and its workflow start in one transaction; a known key answers its first row. */
export async function acceptSends(db: Db, businessId: string, sends: NewSend[]): Promise<Accepted[]> {
  return db.transaction(async (trx) => {
    const results: Accepted[] = [];
    const targets = sends.map((send) => ({ phoneNumberId: send.number.phoneNumberId, ...addressOf(send.request.to) }));
    // A send shows in its conversation when the customer has written to that number before.
    const conversationFor = await conversationsOf(trx, businessId, targets);
    for (const [i, send] of sends.entries()) {
      const { phone } = targets[i]!;
      const kind = kindOf(send.request);
      const conversation = conversationFor(targets[i]!);
      const [inserted] = await trx('messages')
        .insert({
          direction: 'outbound',
          integration_id: send.number.integrationId,
          business_id: businessId,
          phone_number_id: send.number.phoneNumberId,
          customer_wa_id: phone,
          customer_id: conversation?.customerId ?? null,
          conversation_id: conversation?.conversationId ?? null,
          type: kind,
          body: send.request.text ?? send.request.template?.name ?? null,
          content: { request: send.request },
          sent_at: new Date(),
          status: 'pending',
          origin: send.agentId ? 'agent' : kind === 'template' ? 'template' : 'api',
          agent_id: send.agentId,
          idempotency_key_hash: send.keyHash,
          request_hash: send.requestHash,
          expires_at: send.request.expiresAt ? new Date(send.request.expiresAt) : null,
        })
        .onConflict(trx.raw('(business_id, idempotency_key_hash) WHERE idempotency_key_hash IS NOT NULL'))
        .ignore()
        .returning('*');
      if (inserted) {
        const [start] = await insertStarts(trx, [send.start(inserted.id)]);
        results.push({ kind: 'accepted', row: inserted, created: true, start });
        continue;
      }
      const existing = (await trx('messages')
        .where({ business_id: businessId, idempotency_key_hash: send.keyHash })
        .first())!;
      results.push(
        existing.request_hash === send.requestHash
          ? { kind: 'accepted', row: existing, created: false }
          : { kind: 'key_reused', row: existing },
      );
    }
    return results;
  });
}

/** One send of the business, with every status Meta reported for it. */
export async function readSend(
  db: Db,
  businessId: string,
  id: number,
): Promise<{ row: MessageRow; statuses: MessageStatusRow[] } | undefined> {
  const row = await db('messages')
    .where({ id, business_id: businessId, direction: 'outbound' })
    .whereNotNull('idempotency_key_hash')
    .first();
  if (!row) return undefined;
  // Meta's timestamps have a resolution of seconds: within one, the status order decides.
  const statuses = row.wamid
    ? await db('message_statuses')
        .where({ wamid: row.wamid })
        .orderBy('occurred_at')
        .orderByRaw(`array_position(ARRAY['sent', 'delivered', 'read', 'played', 'failed'], status)`)
    : [];
  return { row, statuses };
}

/** When the customer last wrote to this number: the start of Meta's customer service window. */
async function lastInboundAt(
  trx: Tx,
  at: { businessId: string; phoneNumberId: string; phone: string | null; customerId: number | null },
): Promise<Date | null> {
  const row = await trx('messages')
    .where({ direction: 'inbound', business_id: at.businessId, phone_number_id: at.phoneNumberId })
    .andWhere((q) => {
      if (at.phone) q.orWhere('customer_wa_id', at.phone);
      if (at.customerId !== null) q.orWhere('customer_id', at.customerId);
      if (!at.phone && at.customerId === null) q.whereRaw('false');
    })
    .max('sent_at as last')
    .first();
  const last = (row as { last: Date | null } | undefined)?.last;
  return last ?? null;
}

export type OutboundReservation =
  | {
      kind: 'send';
      integrationId: string;
      phoneNumberId: string;
      to: string | null;
      recipient: string | null;
      request: SendRequest;
      number: PacedNumber | undefined;
      /** The customer wrote in the last 24 hours: the send does not count against the messaging limit. */
      insideWindow: boolean;
      /** A person's send goes before the business's bulk sends. */
      priority: SendPriority;
    }
  | { kind: 'done'; wamid: string }
  | { kind: 'wait' }
  | { kind: 'closed'; reason: string; integrationId?: string };

/** The final error of a send that certainly did not go out (or whose outcome stays unknown). */
export interface SendFailure {
  reason: string;
  message: string;
  metaCode?: number | null;
  [key: string]: unknown;
}

/** Every check that decides whether the send may go out now, under the row's lock. */
export async function reserveOutbound(
  db: Db,
  outboundId: number,
  settings: { graceMs: number },
  now = new Date(),
): Promise<OutboundReservation> {
  return db.transaction(async (trx) => {
    const row = await trx('messages').where({ id: outboundId, direction: 'outbound' }).forUpdate().first();
    if (!row) return { kind: 'closed', reason: 'not_found' };
    if (row.wamid) return { kind: 'done', wamid: row.wamid };
    if (row.status === 'failed') return { kind: 'closed', reason: String(row.error?.reason ?? 'failed') };
    const close = async (failure: SendFailure): Promise<OutboundReservation> => {
      await trx('messages').where({ id: outboundId }).update({ status: 'failed', error: failure, updated_at: now });
      return { kind: 'closed', reason: failure.reason };
    };
    const unknownOutcome = (row.status === 'unknown' || row.status === 'sending') && row.attempt_started_at;
    if (unknownOutcome) {
      // Settled only by a status carrying this row's id (intake then sets the wamid); after the
      // grace it is sent again.
      const since = row.status === 'unknown' ? row.updated_at : row.attempt_started_at!;
      if (now.getTime() - since.getTime() < settings.graceMs) return { kind: 'wait' };
    }
    if (row.expires_at && row.expires_at <= now)
      return close({ reason: 'expired', message: 'not sent before expiresAt' });
    const integration = await trx('channel_integrations')
      .where({ id: row.integration_id! })
      .first('is_active', 'state', 'business_id');
    if (!integration?.is_active || integration.state !== 'active') {
      const reason = integration?.state === 'needs_reauth' ? 'needs_reauth' : 'integration_inactive';
      return close({ reason, message: 'the integration cannot send until it is connected again' });
    }
    const number = await trx('whatsapp_phone_numbers')
      .where({ integration_id: row.integration_id!, phone_number_id: row.phone_number_id, is_active: true })
      .first(
        'waba_id',
        'coexistence_offboarded_at',
        'is_on_biz_app',
        'coexistence_onboarded_at',
        'throughput_level',
        'send_rate_limit_mps',
      );
    if (!number || number.coexistence_offboarded_at)
      return close({ reason: 'number_inactive', message: 'the number no longer sends on the Cloud API' });
    const request = (row.content as { request: SendRequest }).request;
    const address = addressOf(request.to);
    const customer = await trx('customers')
      .where({ business_id: row.business_id! })
      .andWhere((q) => {
        if (address.phone) q.where('phone', address.phone);
        else q.where('bsuid', address.bsuid!);
      })
      .first('id', 'phone', 'bsuid');
    const last = await lastInboundAt(trx, {
      businessId: row.business_id!,
      phoneNumberId: row.phone_number_id,
      phone: address.phone ?? customer?.phone ?? null,
      customerId: customer?.id ?? null,
    });
    const insideWindow = last !== null && now.getTime() - last.getTime() < SERVICE_WINDOW_MS;
    if (request.template) {
      const template = await findSendableTemplate(trx, {
        wabaId: number.waba_id,
        name: request.template.name,
        language: templateLanguage(request.template),
      });
      const problem = templateSendProblem(template, request.template);
      if (problem) return close(problem);
    } else if (!insideWindow) {
      return close({
        reason: 'outside_window',
        message: 'the customer has not written to this number in the last 24 hours: only a template may be sent',
      });
    }
    await trx('messages')
      .where({ id: outboundId })
      .update({ status: 'sending', attempt_started_at: now, updated_at: now });
    const phone = address.phone ?? customer?.phone ?? null;
    return {
      kind: 'send',
      integrationId: row.integration_id!,
      phoneNumberId: row.phone_number_id,
      to: phone,
      recipient: phone ? null : (address.bsuid ?? customer?.bsuid ?? null),
      request,
      number,
      insideWindow,
      priority: row.origin === 'agent' ? 'agent' : 'bulk',
    };
  });
}

/** Meta accepted the send: record its id (forward only) and apply statuses that beat us here. */
export async function completeOutbound(db: Db, outboundId: number, wamid: string): Promise<void> {
  await db.transaction((trx) => recordAccepted(trx, outboundId, wamid));
}

/** The send ends without going out (Meta refused it, or retries ran out). */
export async function failOutbound(db: Db, outboundId: number, failure: SendFailure): Promise<void> {
  await db('messages')
    .where({ id: outboundId })
    .whereNull('wamid')
    .update({ status: 'failed', error: failure, updated_at: new Date() });
}
