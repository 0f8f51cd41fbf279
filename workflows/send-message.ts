// SendMessage: one per send the business starts (id `send/<business>/<key hash>`, input our
// outbound row id only). The API already wrote the row; this sends it once at the number's pace,
// retrying transient failures durably, and leaves the final state on the row.
import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { OutboundOutcome } from '../activities/send.js';
import { db, durableSend, quickSend } from './policies.js';
import { sendOnce } from './send-once.js';

export type SendMessageResult = { outcome: 'sent' } | { outcome: 'failed'; reason: string };

const { recordOutboundSent, giveUpOutbound } = db;

/** How often a send held back by the messaging limit looks again (a place may free, or it may expire). */
const LIMIT_RECHECK_MS = 60_000;

export async function sendMessage(outboundId: number): Promise<SendMessageResult> {
  const sendNow = proxyLocalActivities<Activities>(quickSend()).sendOutbound;
  const sendDurably = proxyActivities<Activities>(durableSend()).sendOutbound;
  return sendOnce<OutboundOutcome, SendMessageResult>({
    now: () => sendNow({ outboundId }),
    durably: () => sendDurably({ outboundId }),
    settle: async (result) => {
      if (result.outcome === 'sent') {
        // Meta accepted it while PostgreSQL was away: its id is in our history; record it now.
        if (result.unrecorded) await recordOutboundSent({ outboundId, wamid: result.unrecorded.wamid });
        return { done: { outcome: 'sent' } };
      }
      if (result.outcome === 'closed') return { done: { outcome: 'failed', reason: result.reason } };
      // The next attempt re-reads the row, so an expiresAt that passes meanwhile ends it.
      if (result.outcome === 'limited') return { waitMs: Math.min(result.retryInMs, LIMIT_RECHECK_MS) };
      return 'wait';
    },
    giveUp: async (detail) => {
      await giveUpOutbound({ outboundId, detail });
      return { outcome: 'failed', reason: 'send_gave_up' };
    },
  });
}
