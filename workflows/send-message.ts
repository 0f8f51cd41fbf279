// SendMessage: one per send the business starts (id `send/<business>/<key hash>`, input our
// outbound row id only). The API already wrote the row; this sends it once at the number's pace,
// retrying transient failures durably, and leaves the final state on the row.
import {
  ActivityFailure,
  ApplicationFailure,
  isCancellation,
  log,
  proxyActivities,
  proxyLocalActivities,
  sleep,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { OutboundOutcome } from '../activities/send.js';
import { db, durableSend, quickSend } from './policies.js';

export type SendMessageResult = { outcome: 'sent' } | { outcome: 'failed'; reason: string };

const { recordOutboundSent, giveUpOutbound } = db;

/** How often a send held back by the messaging limit looks again (a place may free, or it may expire). */
const LIMIT_RECHECK_MS = 60_000;

export async function sendMessage(outboundId: number): Promise<SendMessageResult> {
  const sendNow = proxyLocalActivities<Activities>(quickSend()).sendOutbound;
  const sendDurably = proxyActivities<Activities>(durableSend()).sendOutbound;
  let durable = false;
  let pause = 250;
  for (;;) {
    let result: OutboundOutcome;
    try {
      result = durable ? await sendDurably({ outboundId }) : await sendNow({ outboundId });
    } catch (error) {
      if (isCancellation(error)) throw error;
      if (!durable) {
        log.info('quick send failed; retrying durably', { error: String(error) });
        durable = true;
        continue;
      }
      const detail =
        error instanceof ActivityFailure && error.cause instanceof ApplicationFailure
          ? error.cause.message
          : String(error);
      await giveUpOutbound({ outboundId, detail });
      return { outcome: 'failed', reason: 'send_gave_up' };
    }
    if (result.outcome === 'sent') {
      // Meta accepted it while PostgreSQL was away: its id is in our history; record it now.
      if (result.unrecorded) await recordOutboundSent({ outboundId, wamid: result.unrecorded.wamid });
      return { outcome: 'sent' };
    }
    if (result.outcome === 'closed') return { outcome: 'failed', reason: result.reason };
    if (result.outcome === 'limited') {
      // The next attempt re-reads the row, so an expiresAt that passes meanwhile ends it.
      await sleep(Math.min(result.retryInMs, LIMIT_RECHECK_MS));
      continue;
    }
    // An earlier attempt's outcome is unknown: wait for the status that settles it, or the grace.
    await sleep(pause);
    pause = Math.min(pause * 2, 10_000);
  }
}
