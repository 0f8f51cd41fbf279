// HandleMessage: one per inbound WhatsApp message (workflow id from its wamid). Store it, mark it
// read, compute a reply, send it once, in conversation order.
import {
  CancellationScope,
  isCancellation,
  log,
  proxyActivities,
  proxyLocalActivities,
  upsertSearchAttributes,
  type ActivityInterfaceFor,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { InboundDecision, SendOutcome } from '../activities/message-types.js';
import type { InboundMessage } from '../src/meta/webhook-payload.js';
import type { Reply, ReplyRequest } from '../src/reply/responder.js';
import { searchAttributes } from '../src/temporal/names.js';
import { DEFAULT_CALL_TIMEOUTS, type CallTimeouts } from '../src/temporal/timeouts.js';
import { db, durableSend, markRead, quickSend, responderCall } from './policies.js';
import { sendOnce } from './send-once.js';

export type HandleMessageResult = { outcome: 'stopped'; reason: string } | { outcome: 'no_reply' } | SendOutcome;

// On this box every regular activity costs round trips to the Temporal server, which sets the pace.
// The common path therefore runs as local activities inside one workflow task; only a send that
// keeps failing moves to a regular activity with long, durable retries.
const { storeInbound, closeInbound, replyByRules, recordReplySent } = db;

type Proxied = ActivityInterfaceFor<Activities>;
interface Calls {
  markMessageRead: Proxied['markMessageRead'];
  replyByHttp: Proxied['replyByHttp'];
  sendReplyNow: Proxied['sendReply'];
  sendReply: Proxied['sendReply'];
}

function callsFor(timeouts: CallTimeouts): Calls {
  return {
    markMessageRead: proxyLocalActivities<Activities>(markRead(timeouts)).markMessageRead,
    replyByHttp: proxyActivities<Activities>(responderCall(timeouts)).replyByHttp,
    sendReplyNow: proxyLocalActivities<Activities>(quickSend(timeouts)).sendReply,
    sendReply: proxyActivities<Activities>(durableSend(timeouts)).sendReply,
  };
}

export interface HandleMessageOptions {
  /** The configured call timeouts; absent in executions started before they travelled here. */
  timeouts?: CallTimeouts;
}

export async function handleMessage(
  message: InboundMessage,
  options: HandleMessageOptions = {},
): Promise<HandleMessageResult> {
  const decision = await storeInbound(message);
  if (decision.action === 'stop') return { outcome: 'stopped', reason: decision.reason };
  try {
    return await answer(message, decision, callsFor(options.timeouts ?? DEFAULT_CALL_TIMEOUTS));
  } catch (error) {
    if (!isCancellation(error)) throw error;
    // Cancelled by a disconnect: the message stays stored, marked unanswered.
    await CancellationScope.nonCancellable(() =>
      closeInbound({
        messageId: decision.messageId,
        status: 'unanswered',
        error: { reason: 'integration_disconnected' },
      }),
    );
    return { outcome: 'unanswered', reason: 'integration_disconnected' };
  }
}

async function answer(
  message: InboundMessage,
  decision: Extract<InboundDecision, { action: 'reply' }>,
  { markMessageRead, replyByHttp, sendReplyNow, sendReply }: Calls,
): Promise<HandleMessageResult> {
  upsertSearchAttributes([
    { key: searchAttributes.businessId, value: decision.businessId },
    { key: searchAttributes.integrationId, value: decision.integrationId },
  ]);

  const request: ReplyRequest = {
    businessId: decision.businessId,
    integrationId: decision.integrationId,
    phoneNumberId: message.phoneNumberId,
    from: message.from,
    messageId: message.wamid,
    type: message.type,
    text: message.text,
    timestamp: message.sentAt,
  };
  const read = markMessageRead({
    integrationId: decision.integrationId,
    phoneNumberId: message.phoneNumberId,
    wamid: message.wamid,
  }).catch((error: unknown) => log.warn('mark as read failed', { error: String(error) }));
  let reply: Reply | null;
  let responder: string = decision.responder;
  try {
    reply =
      decision.responder === 'http'
        ? await replyByHttp({ request })
        : await replyByRules({ request, autoReplyText: decision.autoReplyText });
  } catch (error) {
    if (isCancellation(error)) throw error;
    // The AI brain is down or refuses: the customer still gets the business's auto-reply.
    log.warn('reply service failed; answering with the auto-reply', { error: String(error) });
    responder = 'rules_fallback';
    reply = await replyByRules({ request, autoReplyText: decision.autoReplyText });
  }
  await read;
  if (!reply) {
    await closeInbound({ messageId: decision.messageId, status: 'no_reply' });
    return { outcome: 'no_reply' };
  }

  const send = {
    inboundId: decision.messageId,
    integrationId: decision.integrationId,
    phoneNumberId: message.phoneNumberId,
    to: message.from,
    text: reply.text,
    replyTo: message.wamid,
    responder,
  };
  // Quick attempts run as local activities; a send that keeps failing continues as a regular
  // activity with durable retries (sendReply is idempotent: one reply row per message). While it is
  // not this message's turn, the workflow waits on a timer: a waiting reply holds no activity slot.
  return sendOnce<SendOutcome, SendOutcome>({
    now: () => sendReplyNow(send),
    durably: () => sendReply(send),
    settle: async (result) => (result.outcome === 'wait' ? 'wait' : { done: await recorded(result) }),
    giveUp: async (reason) => {
      await closeInbound({
        messageId: decision.messageId,
        status: 'failed',
        error: { reason: 'send_gave_up', detail: reason },
      });
      return { outcome: 'failed', reason };
    },
  });
}

/** A reply Meta accepted while PostgreSQL was away: its id is in our history; record it now. */
async function recorded(outcome: SendOutcome): Promise<SendOutcome> {
  if (outcome.outcome === 'replied' && outcome.unrecorded) {
    await recordReplySent({ ...outcome.unrecorded, wamid: outcome.wamid });
    return { outcome: 'replied', wamid: outcome.wamid };
  }
  return outcome;
}
