// HandleInboundMessage: one per stored inbound message, id `message/<row id>`, input the row id
// only. Intake already stored the message (and its place in the conversation) in PostgreSQL;
// this waits for the message's turn, answers the turn once, and closes every message of it.
// The common path runs as local activities inside one workflow task.
import {
  CancellationScope,
  condition,
  defineSignal,
  isCancellation,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  sleep,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { Drafted, TurnSendOutcome } from '../activities/inbound.js';
import { TURN_RELEASED_SIGNAL } from '../src/temporal/names.js';
import type { CallTimeouts } from '../src/temporal/timeouts.js';
import { db, durableSend, markRead, mediaFetch, quickSend, responderCall } from './policies.js';
import { sendOnce } from './send-once.js';

export type HandleInboundResult = { outcome: string; reason?: string };

const turnReleased = defineSignal(TURN_RELEASED_SIGNAL);

const { openInbound, claimTurn, respondByRules, recordTurnSent, abandonTurn, closeInboundMessage, failTurnMedia } = db;

export async function handleInboundMessage(messageId: number): Promise<HandleInboundResult> {
  let nudged = false;
  setHandler(turnReleased, () => {
    nudged = true;
  });
  const start = await openInbound({ messageId });
  if (start.kind === 'closed') return { outcome: start.status };
  const { timeouts } = start;
  const read = proxyLocalActivities<Activities>(markRead(timeouts))
    .markInboundRead({ messageId })
    .catch((error: unknown) => log.warn('mark as read failed', { error: String(error) }));
  try {
    for (;;) {
      const claim = await claimTurn({ messageId });
      if (claim.kind === 'closed') return { outcome: claim.status };
      if (claim.kind === 'turn') {
        // Executions recorded before media was fetched answer without it, as they ran.
        if (claim.media && patched('fetch-inbound-media')) await fetchTurnMedia(claim.turnId, timeouts);
        const result = await answerTurn(claim.turnId, start.responder, timeouts);
        await read;
        return result;
      }
      if (claim.kind === 'debounce') {
        await sleep(claim.waitMs);
        continue;
      }
      // Another message holds the line: a signal is a hint, the next claim reads the truth.
      await condition(() => nudged, claim.waitMs);
      nudged = false;
    }
  } catch (error) {
    if (!isCancellation(error)) throw error;
    // Cancelled by a disconnect: the message stays stored, closed unanswered, its turn released.
    await CancellationScope.nonCancellable(() =>
      closeInboundMessage({ messageId, status: 'unanswered', reason: 'integration_disconnected' }),
    );
    return { outcome: 'unanswered', reason: 'integration_disconnected' };
  }
}

/** Stores the turn's media; trouble with it is recorded and never holds the reply back. */
async function fetchTurnMedia(turnId: number, timeouts: CallTimeouts): Promise<void> {
  try {
    await proxyActivities<Activities>(mediaFetch(timeouts)).fetchTurnMedia({ turnId });
  } catch (error) {
    if (isCancellation(error)) throw error;
    log.warn('media fetch gave up; answering without it', { error: String(error) });
    await failTurnMedia({ turnId, reason: 'meta_unavailable' });
  }
}

async function answerTurn(
  turnId: number,
  responder: 'rules' | 'http',
  timeouts: CallTimeouts,
): Promise<HandleInboundResult> {
  let drafted: Drafted;
  if (responder === 'http') {
    try {
      drafted = await proxyActivities<Activities>(responderCall(timeouts)).respondByHttp({ turnId });
    } catch (error) {
      if (isCancellation(error)) throw error;
      // The AI brain is down or refuses: the customer still gets the business's auto-reply.
      log.warn('reply service failed; answering with the auto-reply', { error: String(error) });
      drafted = await respondByRules({ turnId, fallback: true });
    }
  } else {
    drafted = await respondByRules({ turnId });
  }
  if (drafted.kind === 'no_reply') return { outcome: 'no_reply' };
  if (drafted.kind === 'closed') return { outcome: drafted.status, reason: drafted.reason };

  const sendNow = proxyLocalActivities<Activities>(quickSend(timeouts)).sendTurnReply;
  const sendDurably = proxyActivities<Activities>(durableSend(timeouts)).sendTurnReply;
  // The turn's messages go out in order, each exactly once; one that does not go out ends the turn.
  let result: HandleInboundResult = { outcome: 'replied' };
  for (const outboundId of drafted.outboundIds ?? [drafted.outboundId]) {
    result = await sendOnce<TurnSendOutcome, HandleInboundResult>({
      now: () => sendNow({ outboundId }),
      durably: () => sendDurably({ outboundId }),
      settle: async (sent) => {
        if (sent.outcome === 'replied') {
          // Meta accepted it while PostgreSQL was away: its id is in our history; record it now.
          if (sent.unrecorded) await recordTurnSent({ outboundId, wamid: sent.unrecorded.wamid });
          return { done: { outcome: 'replied' } };
        }
        if (sent.outcome === 'closed') return { done: { outcome: sent.status, reason: sent.reason } };
        return 'wait';
      },
      giveUp: async (detail) => {
        await abandonTurn({ turnId, status: 'failed', reason: 'send_gave_up', detail });
        return { outcome: 'failed', reason: 'send_gave_up' };
      },
    });
    if (result.outcome !== 'replied') break;
  }
  return result;
}
