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
  type ActivityInterfaceFor,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { Drafted, TurnSendOutcome } from '../activities/inbound.js';
import { TURN_RELEASED_SIGNAL } from '../src/temporal/names.js';
import type { CallTimeouts } from '../src/temporal/timeouts.js';
import { db, durableSend, markRead, quickSend, responderCall } from './policies.js';
import { sendOnce } from './send-once.js';

export type HandleInboundResult = { outcome: string; reason?: string };

const turnReleased = defineSignal(TURN_RELEASED_SIGNAL);

const { openInbound, claimTurn, respondByRules, recordTurnSent, abandonTurn, closeInboundMessage } = db;

export async function handleInboundMessage(messageId: number): Promise<HandleInboundResult> {
  let nudged = false;
  setHandler(turnReleased, () => {
    nudged = true;
  });
  const start = await openInbound({ messageId });
  if (start.kind === 'closed') return { outcome: start.status };
  const { timeouts } = start;
  const reads = proxyLocalActivities<Activities>(markRead(timeouts));
  // Executions recorded before typing indicators marked every message read as it opened; now only
  // the newest message of a turn about to be answered is marked read, with the typing indicator.
  const typing = patched('typing-on-turn');
  const read = typing
    ? Promise.resolve()
    : reads
        .markInboundRead({ messageId })
        .catch((error: unknown) => log.warn('mark as read failed', { error: String(error) }));
  try {
    for (;;) {
      const claim = await claimTurn({ messageId });
      if (claim.kind === 'closed') return { outcome: claim.status };
      if (claim.kind === 'turn') {
        const typed = typing ? new Typing(reads.showTyping, claim.turnId, start.typingRefreshMs) : undefined;
        const result = await answerTurn(claim.turnId, start.responder, timeouts, typed);
        await read;
        await typed?.done;
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

/** Meta shows the typing indicator for 25 s at most: shown as the turn opens, and once more while the brain thinks. */
class Typing {
  private thinking = true;
  readonly done: Promise<void>;

  constructor(show: ActivityInterfaceFor<Activities>['showTyping'], turnId: number, refreshMs = 20_000) {
    const warn = (error: unknown) => {
      log.warn('typing indicator failed', { error: String(error) });
      return false;
    };
    this.done = (async () => {
      if (!(await show({ turnId }).catch(warn)) || !this.thinking) return;
      if (await condition(() => !this.thinking, refreshMs)) return;
      await show({ turnId, repeat: true }).catch(warn);
    })().catch((error: unknown) => {
      // A cancelled workflow (a disconnect) closes its message on the main path; nothing to show.
      if (!isCancellation(error)) log.warn('typing indicator stopped', { error: String(error) });
    });
  }

  /** The brain answered: no further indicator. */
  stop(): void {
    this.thinking = false;
  }
}

async function answerTurn(
  turnId: number,
  responder: 'rules' | 'http',
  timeouts: CallTimeouts,
  typing?: Typing,
): Promise<HandleInboundResult> {
  let drafted: Drafted;
  try {
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
  } finally {
    typing?.stop();
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
