// Turns: the oldest waiting message of a conversation owns the next turn. Before the responder is
// called it freezes every waiting message of the conversation into a `turns` row; one reply,
// sent in reply to the newest, answers them all, and the others close `covered`. Every message
// ends in one terminal state, and closing it releases the line for the next turn.
import type { Knex } from 'knex';
import type { Db } from '../db.js';
import type { BrainHandoff } from '../reply/contract-v2.js';
import { kindOf, templateLanguage, type SendContent } from '../meta/outbound-message.js';
import type { ReplyRequest } from '../reply/responder.js';
import { recordAccepted, type InboundStatus } from './messages.js';
import { botPaused } from '../policy/bot-pause.js';
import { DEFAULT_HANDOFF_MS, handOff, MAX_HANDOFF_MS } from './conversations.js';
import { markMessagesDone } from './outbox.js';
import type { PacedNumber } from './pacer.js';
import type { ConversationRow, IntegrationRow, IntegrationSettings, MessageRow, TurnRow } from './tables.js';
import { findSendableTemplate, templateSendProblem } from './templates.js';

type Tx = Db | Knex.Transaction;

export interface TurnSettings {
  debounceMs: number;
  debounceMaxMs: number;
  maxTurnWaitMs: number;
}

/** A row an erasure (or the retention sweep) deleted while its workflow ran: the workflow just ends. */
export type Erased = 'erased';

export type Claim =
  /** The message already reached a terminal state, or is gone (`released`: closing it now moved the line). */
  | { kind: 'closed'; status: InboundStatus | Erased; released?: Released }
  /** Another message holds the line: wait (a signal may end the wait early), then ask again. */
  | { kind: 'wait'; waitMs: number }
  /** This message is the head, debouncing: more messages may join its turn. */
  | { kind: 'debounce'; waitMs: number }
  /** This message owns the turn. */
  | { kind: 'turn'; turnId: number };

/** The line moves: the next waiting message, if any, gets a hint. */
export interface Released {
  nextHeadId: number | null;
}

async function nextHead(trx: Tx, conversationId: number): Promise<number | null> {
  const head = await trx('messages')
    .where({ conversation_id: conversationId, status: 'received' })
    .orderBy('sequence')
    .first('id');
  return head?.id ?? null;
}

/**
 * Closes one message (a cancelled or given-up workflow, a superseded head). A turn it owned fails
 * and its other messages wait again, to be answered by the next turn.
 */
async function closeMessage(
  trx: Knex.Transaction,
  messageId: number,
  status: InboundStatus,
  error: Record<string, unknown> | null,
): Promise<Released> {
  const message = await trx('messages')
    .where({ id: messageId, direction: 'inbound' })
    .first('id', 'conversation_id', 'turn_id', 'status');
  if (!message) return { nextHeadId: null };
  if (message.conversation_id) {
    await trx('conversations').where({ id: message.conversation_id }).forUpdate().first('id');
  }
  const now = new Date();
  const closed = await trx('messages')
    .where({ id: messageId, status: 'received' })
    .update({ status, error, updated_at: now });
  if (message.turn_id) {
    const turn = await trx('turns').where({ id: message.turn_id, state: 'open' }).first();
    if (turn && turn.head_message_id === messageId) {
      await trx('turns').where({ id: turn.id }).update({ state: 'failed', outcome: status, closed_at: now });
      await trx('messages')
        .whereIn('id', turn.message_ids)
        .where({ status: 'received' })
        .update({ turn_id: null, updated_at: now });
      await trx('messages')
        .where({ turn_id: turn.id, direction: 'outbound' })
        .whereNull('wamid')
        .update({ status: 'failed', error: { reason: 'turn_released' }, updated_at: now });
    }
  }
  await markMessagesDone(trx, [messageId]);
  if (!message.conversation_id || closed === 0) return { nextHeadId: null };
  await trx('conversations').where({ id: message.conversation_id }).update({ head_since: now, updated_at: now });
  return { nextHeadId: await nextHead(trx, message.conversation_id) };
}

/** Closes every message of a turn: `replied` for the one the reply answers, `covered` for the rest. */
async function closeTurn(
  trx: Knex.Transaction,
  turnOrId: TurnRow | number,
  status: InboundStatus,
  error: Record<string, unknown> | null,
): Promise<Released> {
  const turn = typeof turnOrId === 'number' ? await trx('turns').where({ id: turnOrId }).first() : turnOrId;
  if (!turn) throw new Error(`turn ${String(turnOrId)} not found`);
  await trx('conversations').where({ id: turn.conversation_id }).forUpdate().first('id');
  const now = new Date();
  await trx('messages')
    .whereIn('id', turn.message_ids)
    .where({ status: 'received' })
    .update({
      status:
        status === 'replied'
          ? trx.raw(`CASE WHEN id = ? THEN 'replied' ELSE 'covered' END`, [turn.reply_to_message_id])
          : status,
      error: status === 'replied' ? null : error,
      updated_at: now,
    });
  if (turn.state === 'open')
    await trx('turns')
      .where({ id: turn.id })
      .update({ state: status === 'failed' ? 'failed' : 'done', outcome: status, closed_at: now });
  await markMessagesDone(trx, turn.message_ids);
  await trx('conversations').where({ id: turn.conversation_id }).update({ head_since: now, updated_at: now });
  return { nextHeadId: await nextHead(trx, turn.conversation_id) };
}

/** Closes the turn if it is still open; null when something closed it already. */
async function closeOpenTurn(
  trx: Knex.Transaction,
  turnId: number,
  status: InboundStatus,
  error: Record<string, unknown> | null,
): Promise<Released | null> {
  const turn = await trx('turns').where({ id: turnId }).first();
  return turn?.state === 'open' ? closeTurn(trx, turn, status, error) : null;
}

export async function claimTurn(db: Db, messageId: number, settings: TurnSettings, now = new Date()): Promise<Claim> {
  return db.transaction(async (trx) => {
    const ref = await trx('messages').where({ id: messageId, direction: 'inbound' }).first('conversation_id');
    if (!ref) return { kind: 'closed', status: 'erased' };
    if (!ref.conversation_id) {
      const row = await trx('messages').where({ id: messageId }).first('status');
      return { kind: 'closed', status: row!.status as InboundStatus };
    }
    const conversation = await trx('conversations').where({ id: ref.conversation_id }).forUpdate().first();
    const message = (await trx('messages').where({ id: messageId }).first('status', 'turn_id', 'created_at'))!;
    if (message.status !== 'received') return { kind: 'closed', status: message.status as InboundStatus };
    if (message.turn_id) {
      const own = await trx('turns')
        .where({ id: message.turn_id, state: 'open', head_message_id: messageId })
        .first('id');
      if (own) return { kind: 'turn', turnId: own.id };
    }
    // While a person holds the conversation (or the owner answered from the app), messages close
    // `agent` before anyone asks the responder, and are not replayed later.
    if (!message.turn_id && botPaused(conversation!, now)) {
      const released = await closeMessage(trx, messageId, 'agent', { reason: 'bot_paused' });
      return { kind: 'closed', status: 'agent', released };
    }
    let headSince = conversation!.head_since.getTime();
    for (;;) {
      const head = await trx('messages')
        .where({ conversation_id: ref.conversation_id, status: 'received' })
        .orderBy('sequence')
        .first('id', 'created_at');
      if (!head || head.id === messageId) break;
      const waited = now.getTime() - Math.max(headSince, head.created_at.getTime());
      if (waited < settings.maxTurnWaitMs)
        return { kind: 'wait', waitMs: Math.min(5_000, settings.maxTurnWaitMs - waited + 50) };
      // One broken message never holds a conversation: the head that waited too long gives way.
      await closeMessage(trx, head.id, 'failed', { reason: 'superseded' });
      headSince = now.getTime();
    }
    const waiting = await trx('messages')
      .where({ conversation_id: ref.conversation_id, status: 'received' })
      .whereNull('turn_id')
      .orderBy('sequence')
      .select('id', 'created_at');
    if (waiting.length === 0) return { kind: 'closed', status: 'received' };
    if (settings.debounceMs > 0) {
      const newest = waiting[waiting.length - 1]!.created_at.getTime();
      const until = Math.min(newest + settings.debounceMs, message.created_at.getTime() + settings.debounceMaxMs);
      if (until > now.getTime()) return { kind: 'debounce', waitMs: until - now.getTime() };
    }
    const ids = waiting.map((w) => w.id);
    const [turn] = await trx('turns')
      .insert({
        conversation_id: ref.conversation_id,
        head_message_id: messageId,
        message_ids: ids,
        reply_to_message_id: ids[ids.length - 1]!,
      })
      .returning('id');
    await trx('messages').whereIn('id', ids).update({ turn_id: turn!.id });
    return { kind: 'turn', turnId: turn!.id };
  });
}

export interface InboundToAnswer {
  status: string;
  type: string;
  content: Record<string, unknown> | null;
  /** The integration that answers it; null when the message has none. */
  integration: Pick<IntegrationRow, 'is_active' | 'state' | 'settings'> | null;
}

/** A stored inbound message and the integration that would answer it, in one read. */
export async function inboundToAnswer(db: Db, messageId: number): Promise<InboundToAnswer | undefined> {
  const row = await db('messages as m')
    .leftJoin('channel_integrations as i', 'i.id', 'm.integration_id')
    .where({ 'm.id': messageId, 'm.direction': 'inbound' })
    .first('m.status', 'm.type', 'm.content', 'i.id as integration_id', 'i.is_active', 'i.state', 'i.settings');
  if (!row) return undefined;
  const r = row as unknown as Omit<InboundToAnswer, 'integration'> &
    Pick<IntegrationRow, 'is_active' | 'state' | 'settings'> & { integration_id: string | null };
  return {
    status: r.status,
    type: r.type,
    content: r.content,
    integration: r.integration_id ? { is_active: r.is_active, state: r.state, settings: r.settings } : null,
  };
}

/** What marking a message read at Meta needs. */
export async function readReceiptTarget(
  db: Db,
  messageId: number,
): Promise<{ wamid: string | null; integration_id: string | null; phone_number_id: string } | undefined> {
  return db('messages').where({ id: messageId }).first('wamid', 'integration_id', 'phone_number_id');
}

/**
 * What marking a turn's newest message read (with the typing indicator) needs, or undefined when
 * nothing should be shown: the turn is over, a person holds the conversation (or the owner's echo
 * paused the bot), or, for a repeat, its reply is already written.
 */
export async function typingTarget(
  db: Db,
  turnId: number,
  options: { repeat: boolean },
  now = new Date(),
): Promise<{ wamid: string; integration_id: string; phone_number_id: string } | undefined> {
  const row:
    | (Pick<MessageRow, 'wamid' | 'type' | 'integration_id' | 'phone_number_id'> &
        Pick<ConversationRow, 'mode' | 'handoff_expires_at' | 'bot_paused_until'> & {
          settings: IntegrationSettings | null;
          drafted: boolean;
        })
    | undefined = await db('turns as t')
    .join('conversations as c', 'c.id', 't.conversation_id')
    .join('messages as m', 'm.id', 't.reply_to_message_id')
    .leftJoin('channel_integrations as i', 'i.id', 'm.integration_id')
    .where({ 't.id': turnId, 't.state': 'open' })
    .first(
      'm.wamid',
      'm.type',
      'i.settings',
      'm.integration_id',
      'm.phone_number_id',
      'c.mode',
      'c.handoff_expires_at',
      'c.bot_paused_until',
      db.raw(`EXISTS (SELECT 1 FROM messages o WHERE o.turn_id = t.id AND o.direction = 'outbound') AS drafted`),
    );
  if (!row?.wamid || !row.integration_id || botPaused(row, now)) return undefined;
  // Meta: show it only when a reply will come. A welcome request without a welcome text gets none.
  if (row.type === 'request_welcome' && !row.settings?.welcomeText) return undefined;
  if (options.repeat && row.drafted) return undefined;
  return { wamid: row.wamid, integration_id: row.integration_id, phone_number_id: row.phone_number_id };
}

export interface TurnContext {
  turn: TurnRow;
  conversationId: number;
  /** When the customer sent the turn's newest message: Meta's 24-hour window runs from it. */
  newestSentAt: Date;
  request: ReplyRequest;
  integrationId: string;
  settings: IntegrationSettings;
}

/** What a responder sees: the turn's messages in order, the newest last, and who the customer is; undefined once erased. */
export async function turnContext(db: Db, turnId: number): Promise<TurnContext | undefined> {
  const turn = await db('turns').where({ id: turnId }).first();
  if (!turn) return undefined;
  const messages: MessageRow[] = await db('messages').whereIn('id', turn.message_ids).orderBy('sequence');
  const newest = messages.find((m) => m.id === turn.reply_to_message_id) ?? messages[messages.length - 1];
  if (!newest) return undefined;
  const [customer, integration] = await Promise.all([
    newest.customer_id ? db('customers').where({ id: newest.customer_id }).first() : undefined,
    db('channel_integrations').where({ id: newest.integration_id! }).first('settings'),
  ]);
  const phone = customer?.phone ?? newest.customer_wa_id ?? null;
  return {
    turn,
    conversationId: turn.conversation_id,
    newestSentAt: newest.sent_at,
    integrationId: newest.integration_id!,
    settings: integration?.settings ?? {},
    request: {
      businessId: newest.business_id!,
      integrationId: newest.integration_id!,
      phoneNumberId: newest.phone_number_id,
      from: phone ?? customer?.bsuid ?? '',
      customer: {
        id: String(customer?.id ?? ''),
        ...(phone ? { phone } : {}),
        ...(customer?.bsuid ? { bsuid: customer.bsuid } : {}),
        ...(customer?.username ? { username: customer.username } : {}),
        ...(customer?.profile_name ? { name: customer.profile_name } : {}),
      },
      messageId: newest.wamid!,
      type: newest.type,
      text: newest.body,
      timestamp: newest.sent_at.getTime(),
      messages: messages.map((m) => ({
        messageId: m.wamid!,
        type: m.type,
        text: m.body,
        timestamp: m.sent_at.getTime(),
      })),
    },
  };
}

/** The text a message row keeps of a reply: its text, caption, template name or interactive body. */
function bodyOf(content: SendContent): string | null {
  const kind = kindOf(content);
  if (kind === 'text') return content.text!;
  if (kind === 'template') return content.template!.name;
  if (kind === 'interactive') {
    const body = (content.interactive as { body?: { text?: unknown } }).body?.text;
    return typeof body === 'string' ? body : null;
  }
  return (content[kind] as { caption?: string }).caption ?? null;
}

export type DraftResult =
  | { kind: 'drafted'; outboundIds: number[] }
  /** The answer sent nothing and handed the conversation to a person: the turn is closed `agent`. */
  | { kind: 'handed_off'; released: Released | null }
  /** A template the answer names cannot be sent: nothing is drafted. */
  | { kind: 'refused'; reason: string; message: string }
  /** The turn or the message it answers was erased meanwhile: nothing is drafted. */
  | { kind: 'erased' };

/**
 * Writes the turn's answer once: one outbound row per message, ordinals 0..n-1, in order (the first
 * answer wins if a responder call is retried). A handoff is kept on the turn and applied after the
 * last message is sent; with no messages it is applied now and the turn closes `agent`.
 */
export async function draftAnswer(
  db: Db,
  turnId: number,
  answer: { messages: SendContent[]; handoff?: BrainHandoff | undefined },
  responder: string,
): Promise<DraftResult> {
  return db.transaction(async (trx) => {
    const turn = await trx('turns').where({ id: turnId }).first();
    const replyTo = turn && (await trx('messages').where({ id: turn.reply_to_message_id }).first());
    if (!turn || !replyTo) return { kind: 'erased' };
    const existing = await trx('messages')
      .where({ turn_id: turnId, direction: 'outbound' })
      .orderBy('ordinal')
      .select('id');
    if (existing.length > 0) return { kind: 'drafted', outboundIds: existing.map((r) => r.id) };
    for (const content of answer.messages) {
      if (!content.template) continue;
      const number = await trx('whatsapp_phone_numbers')
        .where({ integration_id: replyTo.integration_id!, phone_number_id: replyTo.phone_number_id })
        .first('waba_id');
      const template = await findSendableTemplate(trx, {
        wabaId: number?.waba_id ?? '',
        name: content.template.name,
        language: templateLanguage(content.template),
      });
      const problem = templateSendProblem(template, content.template);
      if (problem) return { kind: 'refused', ...problem };
    }
    if (answer.handoff && turn.state === 'open')
      await trx('turns').where({ id: turnId }).update({ handoff: answer.handoff });
    if (answer.messages.length === 0) {
      if (!answer.handoff || turn.state !== 'open') return { kind: 'drafted', outboundIds: [] };
      await brainHandOff(trx, turn, answer.handoff);
      return { kind: 'handed_off', released: await closeTurn(trx, turn, 'agent', { reason: 'handoff' }) };
    }
    const now = new Date();
    const rows = await trx('messages')
      .insert(
        answer.messages.map((content, ordinal) => {
          const kind = kindOf(content);
          return {
            direction: 'outbound',
            integration_id: replyTo.integration_id,
            business_id: replyTo.business_id,
            phone_number_id: replyTo.phone_number_id,
            customer_wa_id: replyTo.customer_wa_id,
            customer_id: replyTo.customer_id,
            conversation_id: replyTo.conversation_id,
            type: kind,
            body: bodyOf(content),
            // A text reply needs nothing more than its body; any other kind keeps what is sent.
            content: kind === 'text' ? null : { reply: content },
            sent_at: now,
            status: 'pending',
            in_reply_to: replyTo.id,
            responder,
            turn_id: turnId,
            ordinal,
          };
        }),
      )
      .returning(['id', 'ordinal']);
    return {
      kind: 'drafted',
      outboundIds: [...rows].sort((a, b) => (a.ordinal ?? 0) - (b.ordinal ?? 0)).map((r) => r.id),
    };
  });
}

/** Why the brain's answer for this turn was not used; the auto-reply's row shows it. */
export async function recordResponderError(db: Db, turnId: number, reason: string): Promise<void> {
  await db('turns')
    .where({ id: turnId })
    .update({ responder_error: reason.slice(0, 500) });
}

/** The brain hands the conversation to a person: the one handoff, at most as long as any handoff lasts. */
async function brainHandOff(trx: Knex.Transaction, turn: TurnRow, handoff: BrainHandoff): Promise<void> {
  const conversation = (await trx('conversations').where({ id: turn.conversation_id }).first('business_id'))!;
  const now = new Date();
  const asked = handoff.expiresAt ? new Date(handoff.expiresAt).getTime() : now.getTime() + DEFAULT_HANDOFF_MS;
  const expiresAt = new Date(Math.min(Math.max(asked, now.getTime() + 60_000), now.getTime() + MAX_HANDOFF_MS));
  await handOff(
    trx,
    conversation.business_id,
    turn.conversation_id,
    { agentId: null, note: handoff.note ?? null, expiresAt },
    now,
  );
}

/**
 * The turn is answered once its last message is sent: an earlier ordinal leaves it open for the
 * next, and the last applies the handoff the brain asked for.
 */
async function closeIfAnswered(trx: Knex.Transaction, turnId: number, outboundId: number): Promise<Released | null> {
  const turn = await trx('turns').where({ id: turnId }).first();
  if (turn?.state !== 'open') return null;
  const row = (await trx('messages').where({ id: outboundId }).first('ordinal'))!;
  const later = await trx('messages')
    .where({ turn_id: turnId, direction: 'outbound' })
    .where('ordinal', '>', row.ordinal ?? 0)
    .whereNull('wamid')
    .whereNot({ status: 'failed' })
    .first('id');
  if (later) return null;
  if (turn.handoff) await brainHandOff(trx, turn, turn.handoff);
  return closeTurn(trx, turn, 'replied', null);
}

export type SendReservation =
  | {
      kind: 'send';
      turnId: number;
      integrationId: string;
      phoneNumberId: string;
      to: string | null;
      recipient: string | null;
      replyTo: string | null;
      /** What is sent: the text reply, or the brain's message of another kind. */
      content: SendContent;
      /** What the pacer needs to know about the sending number. */
      number: PacedNumber | undefined;
    }
  | { kind: 'done'; wamid: string; released: Released | null }
  | { kind: 'wait' }
  | { kind: 'closed'; status: InboundStatus | Erased; reason: string; released: Released | null };

export interface SendSettings {
  graceMs: number;
  maxReplyLatenessMs: number;
}

/**
 * Reserves the send of an outbound row: every check that decides whether it may go out, under
 * the conversation's lock.
 */
export async function reserveSend(
  db: Db,
  outboundId: number,
  settings: SendSettings,
  now = new Date(),
): Promise<SendReservation> {
  return db.transaction(async (trx) => {
    const erased = { kind: 'closed', status: 'erased', reason: 'erased', released: null } as const;
    const ref = await trx('messages').where({ id: outboundId, direction: 'outbound' }).first('turn_id');
    const turn = ref?.turn_id ? await trx('turns').where({ id: ref.turn_id }).first() : undefined;
    if (!turn) return erased;
    const conversation = await trx('conversations').where({ id: turn.conversation_id }).forUpdate().first();
    const row = await trx('messages').where({ id: outboundId }).forUpdate().first();
    if (!conversation || !row) return erased;
    const close = async (status: InboundStatus, reason: string): Promise<SendReservation> => {
      await trx('messages')
        .where({ id: outboundId })
        .whereNull('wamid')
        .update({ status: 'failed', error: { reason }, updated_at: now });
      const released = turn.state === 'open' ? await closeTurn(trx, turn.id, status, { reason }) : null;
      return { kind: 'closed', status, reason, released };
    };
    if (row.wamid) {
      // Settled by a status carrying our row id, or recorded earlier.
      return { kind: 'done', wamid: row.wamid, released: await closeIfAnswered(trx, turn.id, outboundId) };
    }
    if (turn.state !== 'open') return close('failed', 'turn_released');
    // The integration and the number in one read; a coexistence number whose Cloud API side Meta
    // offboarded (ACCOUNT_OFFBOARDED) sends nothing.
    const target = await trx('channel_integrations as i')
      .leftJoin('whatsapp_phone_numbers as n', (join) => {
        join.on('n.integration_id', 'i.id').andOn('n.phone_number_id', trx.raw('?', [row.phone_number_id]));
      })
      .where('i.id', row.integration_id!)
      .first(
        'i.is_active',
        'i.state',
        'n.coexistence_offboarded_at',
        'n.is_on_biz_app',
        'n.coexistence_onboarded_at',
        'n.throughput_level',
        'n.send_rate_limit_mps',
      );
    if (!target?.is_active || target.state !== 'active') {
      return close('unanswered', target?.state === 'needs_reauth' ? 'needs_reauth' : 'integration_inactive');
    }
    const { is_active: _active, state: _state, ...number } = target;
    if (number?.coexistence_offboarded_at) return close('unanswered', 'offboarded');
    // A handoff or an owner's echo that came while the responder was thinking stops the send here.
    if (botPaused(conversation, now)) return close('agent', 'bot_paused');
    const replyTo = (await trx('messages').where({ id: turn.reply_to_message_id }).first('wamid', 'created_at'))!;
    if (now.getTime() - replyTo.created_at.getTime() > settings.maxReplyLatenessMs) return close('unanswered', 'late');
    if ((row.status === 'unknown' || row.status === 'sending') && row.attempt_started_at) {
      // An attempt whose outcome is unknown is settled only by a status carrying this row's id
      // (applied at intake, which sets the wamid above); after the grace it is sent again.
      const since = row.status === 'unknown' ? row.updated_at : row.attempt_started_at;
      if (now.getTime() - since.getTime() < settings.graceMs) return { kind: 'wait' };
    }
    const customer = await trx('customers').where({ id: conversation.customer_id }).first('phone', 'bsuid');
    await trx('messages')
      .where({ id: outboundId })
      .update({ status: 'sending', attempt_started_at: now, updated_at: now });
    return {
      kind: 'send',
      turnId: turn.id,
      integrationId: row.integration_id!,
      phoneNumberId: row.phone_number_id,
      to: customer?.phone ?? row.customer_wa_id ?? null,
      recipient: customer?.bsuid ?? null,
      replyTo: replyTo.wamid,
      content: (row.content as { reply?: SendContent } | null)?.reply ?? { text: row.body ?? '' },
      number,
    };
  });
}

/** Meta accepted the send: record its id (forward only), apply statuses that beat us here, close the turn. */
export async function completeSend(db: Db, outboundId: number, wamid: string): Promise<Released | null> {
  return db.transaction(async (trx) => {
    const { turnId } = await recordAccepted(trx, outboundId, wamid);
    return turnId ? closeIfAnswered(trx, turnId, outboundId) : null;
  });
}

/** The send failed: `rejected`/`not_sent` certainly did not go out; `unknown` may have. */
export async function releaseSend(
  db: Db,
  outboundId: number,
  outcome: 'rejected' | 'not_sent' | 'unknown',
  error: Record<string, unknown>,
): Promise<void> {
  await db('messages')
    .where({ id: outboundId })
    .whereNull('wamid')
    .update({ status: outcome === 'unknown' ? 'unknown' : 'pending', error, updated_at: new Date() });
}

/** The turn will not be answered: the outbound row (if any) and every message of the turn record why. */
export async function abandonTurn(
  db: Db,
  turnId: number,
  status: InboundStatus,
  error: Record<string, unknown>,
): Promise<Released | null> {
  return db.transaction(async (trx) => {
    await trx('messages')
      .where({ turn_id: turnId, direction: 'outbound' })
      .whereNull('wamid')
      .update({ status: 'failed', error, updated_at: new Date() });
    return closeOpenTurn(trx, turnId, status, error);
  });
}

export async function closeInboundMessage(
  db: Db,
  messageId: number,
  status: InboundStatus,
  error: Record<string, unknown> | null,
): Promise<Released> {
  return db.transaction((trx) => closeMessage(trx, messageId, status, error));
}

/**
 * The customer deleted a message. One still waiting (received, in no frozen turn) closes and will
 * not be answered; if it was the head, the next waiting message owns the line (its workflow sees
 * that at its next poll). One already frozen stays: its reply is being composed. Only a message of
 * the revoke's own conversation can be closed. The id of the closed message, or null.
 */
export async function revokeWaiting(
  trx: Knex.Transaction,
  conversationId: number,
  wamid: string,
): Promise<number | null> {
  const message = await trx('messages')
    .where({ wamid, direction: 'inbound', conversation_id: conversationId, status: 'received' })
    .whereNull('turn_id')
    .first('id');
  if (!message) return null;
  await closeMessage(trx, message.id, 'no_reply', { reason: 'revoked' });
  return message.id;
}

export interface LineStats {
  waitingTurns: number;
  oldestHeadWaitSeconds: number;
}

/** Conversations with a message waiting, and how long the longest-waiting head has waited. */
export async function lineStats(db: Db): Promise<LineStats> {
  const result = await db.raw(`
    SELECT count(*)::int AS waiting, COALESCE(EXTRACT(EPOCH FROM now() - min(since)), 0)::float AS oldest FROM (
      SELECT GREATEST(c.head_since, min(m.created_at)) AS since
      FROM messages m JOIN conversations c ON c.id = m.conversation_id
      WHERE m.status = 'received' AND m.direction = 'inbound'
      GROUP BY c.id, c.head_since
    ) heads`);
  const row = result.rows[0] as { waiting: number; oldest: number } | undefined;
  return { waitingTurns: row?.waiting ?? 0, oldestHeadWaitSeconds: row?.oldest ?? 0 };
}
