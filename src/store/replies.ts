// The reply row: one per inbound message (unique in_reply_to), written before the send and
// completed with Meta's message id after. It is what makes a second send impossible, whatever
// Temporal retries or Meta redelivers.
import type { Db } from '../db.js';
import { applyEarlyStatuses, earlierMessagePending } from './messages.js';
import type { PacedNumber } from './pacer.js';
import type { IntegrationRow, MessageRow, MessageStatusRow } from './tables.js';

export type Reservation =
  /** Go ahead and send; the row is marked `sending`. */
  | { kind: 'send'; replyId: number }
  /** Already accepted by Meta earlier (possibly adopted from its status webhook). */
  | { kind: 'done'; replyId: number; wamid: string }
  /** Not now: an earlier message of this conversation is still being answered, or a previous
   * attempt's outcome is unknown and Meta's status webhook may still tell us it went out. */
  | { kind: 'wait'; reason: 'earlier_message' | 'outcome_unknown' };

/** The sending integration's state and what the pacer needs to know about the number, in one read. */
export async function sendingIntegration(
  db: Db,
  integrationId: string,
  phoneNumberId: string,
): Promise<(Pick<IntegrationRow, 'is_active' | 'state'> & { number: PacedNumber | undefined }) | undefined> {
  const row = (await db('channel_integrations as i')
    .leftJoin('whatsapp_phone_numbers as n', (join) => {
      join.on('n.integration_id', 'i.id').andOn('n.phone_number_id', db.raw('?', [phoneNumberId]));
    })
    .where('i.id', integrationId)
    .first(
      'i.is_active',
      'i.state',
      'n.id as number_id',
      'n.is_on_biz_app',
      'n.coexistence_onboarded_at',
      'n.throughput_level',
      'n.send_rate_limit_mps',
    )) as (Pick<IntegrationRow, 'is_active' | 'state'> & PacedNumber & { number_id: number | null }) | undefined;
  if (!row) return undefined;
  const { is_active, state, number_id, ...number } = row;
  return { is_active, state, number: number_id === null ? undefined : number };
}

export interface ReplyDraft {
  inboundId: number;
  text: string;
  responder: string;
}

/**
 * `graceMs`: how long after an attempt whose outcome is unknown we wait for Meta's `sent` status
 * before concluding the message never went out and sending again.
 */
export async function reserveReply(db: Db, draft: ReplyDraft, graceMs: number, now = new Date()): Promise<Reservation> {
  return db.transaction(async (trx) => {
    const inbound: MessageRow | undefined = await trx('messages')
      .where({ id: draft.inboundId, direction: 'inbound' })
      .forUpdate()
      .first();
    if (!inbound) throw new Error(`inbound message ${draft.inboundId} not found`);
    // One sender per conversation at a time: the order check below must not race another send.
    await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', [
      `conversation:${inbound.phone_number_id}:${inbound.customer_wa_id}`,
    ]);
    const existing: MessageRow | undefined = await trx('messages')
      .where({ in_reply_to: inbound.id })
      .forUpdate()
      .first();
    if (existing?.wamid) return { kind: 'done', replyId: existing.id, wamid: existing.wamid };

    // `sending` with no Meta id means an attempt was cut off (worker killed, crash) after the row
    // was written: its outcome is as unknown as a timeout's.
    if ((existing?.status === 'unknown' || existing?.status === 'sending') && existing.attempt_started_at) {
      const since = new Date(existing.attempt_started_at.getTime() - 5_000);
      const sent: Pick<MessageStatusRow, 'wamid'> | undefined = await trx('message_statuses as s')
        .where({ 's.phone_number_id': inbound.phone_number_id, 's.recipient_id': inbound.customer_wa_id })
        .andWhere('s.occurred_at', '>=', since)
        .whereNotExists(trx('messages as m').whereRaw('m.wamid = s.wamid'))
        .orderBy('s.occurred_at')
        .first('s.wamid');
      if (sent) {
        await trx('messages')
          .where({ id: existing.id })
          .update({ wamid: sent.wamid, status: 'accepted', error: null, updated_at: now });
        await applyEarlyStatuses(trx, sent.wamid);
        await trx('messages').where({ id: inbound.id }).update({ status: 'replied', updated_at: now });
        return { kind: 'done', replyId: existing.id, wamid: sent.wamid };
      }
      // The grace runs from when the outcome became unknown (the attempt's end), not its start.
      const unknownSince = existing.status === 'unknown' ? existing.updated_at : existing.attempt_started_at;
      const waited = now.getTime() - unknownSince.getTime();
      if (waited < graceMs) return { kind: 'wait', reason: 'outcome_unknown' };
    }
    if (await earlierMessagePending(trx, inbound)) return { kind: 'wait', reason: 'earlier_message' };

    if (existing) {
      await trx('messages')
        .where({ id: existing.id })
        .update({ status: 'sending', body: draft.text, attempt_started_at: now, updated_at: now });
      return { kind: 'send', replyId: existing.id };
    }
    const [row] = await trx('messages')
      .insert({
        direction: 'outbound',
        integration_id: inbound.integration_id,
        business_id: inbound.business_id,
        phone_number_id: inbound.phone_number_id,
        customer_wa_id: inbound.customer_wa_id,
        type: 'text',
        body: draft.text,
        sent_at: now,
        status: 'sending',
        in_reply_to: inbound.id,
        responder: draft.responder,
        attempt_started_at: now,
      })
      .returning('id');
    return { kind: 'send', replyId: row!.id };
  });
}

/** Meta accepted the send: record its id, apply statuses that beat us here, close the inbound. */
export async function completeReply(db: Db, replyId: number, inboundId: number, wamid: string): Promise<void> {
  await db.transaction(async (trx) => {
    const now = new Date();
    await trx('messages')
      .where({ id: replyId })
      .update({ wamid, status: 'accepted', error: null, sent_at: now, updated_at: now });
    await applyEarlyStatuses(trx, wamid);
    await trx('messages').where({ id: inboundId }).update({ status: 'replied', updated_at: now });
  });
}

/** The reply will never be sent: record why on both rows. */
export async function abandonReply(
  db: Db,
  replyId: number | null,
  inboundId: number,
  inboundStatus: 'unanswered' | 'failed',
  error: Record<string, unknown>,
): Promise<void> {
  await db.transaction(async (trx) => {
    const now = new Date();
    if (replyId !== null)
      await trx('messages')
        .where({ id: replyId })
        .whereNull('wamid')
        .update({ status: 'failed', error, updated_at: now });
    await trx('messages').where({ id: inboundId }).update({ status: inboundStatus, error, updated_at: now });
  });
}
