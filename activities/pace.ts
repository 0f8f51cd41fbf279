// Waiting for a send slot inside an activity: a near slot is waited for in-process; a far one is
// not reserved, and the caller fails the attempt with a retry delay (pacedFailure), because the
// reply's first attempts run as local activities inside a workflow task that must not stall.
// Replies and agents' messages wait up to a second; bulk sends take only a slot that is free now,
// and one that finds none comes back later the more often it has tried (with jitter): a backlog of a
// thousand polls the pacer a few hundred times a second at most, not once per send at every slot.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Db } from '../src/db.js';
import { forgetIdleRecipients, reserveSendSlot, type PacedNumber, type SendPriority } from '../src/store/pacer.js';

/** The longest a reply's or an agent's attempt waits in-process for its slot. */
const MAX_IN_PROCESS_WAIT_MS = 1_000;
/** About one reservation in this many also deletes the number's idle recipient rows. */
const CLEANUP_EVERY = 500;
/** A bulk send's first retry comes after this, doubling with each attempt up to the maximum. */
const BULK_RETRY_FIRST_MS = 100;
const BULK_RETRY_MAX_MS = 5_000;

/** When a bulk send that found no slot tries again: never before its slot, later the longer it has waited. */
function bulkRetryInMs(slotInMs: number, attempt: number): number {
  const backoff = Math.min(BULK_RETRY_MAX_MS, BULK_RETRY_FIRST_MS * 2 ** Math.min(Math.max(attempt - 1, 0), 16));
  return Math.max(slotInMs, Math.round(backoff * (0.5 + Math.random() / 2)));
}

/**
 * Waits for the number's next send slot, and the recipient's when one is named (Meta's pair rate);
 * answers how long until one is near when it is not.
 */
export async function waitForSendSlot(
  db: Db,
  phoneNumberId: string,
  number: PacedNumber | undefined,
  options: { recipient?: string | null; priority?: SendPriority; attempt?: number } = {},
): Promise<{ retryInMs: number } | null> {
  const slot = await reserveSendSlot(db, phoneNumberId, number, {
    maxWaitMs: MAX_IN_PROCESS_WAIT_MS,
    recipient: options.recipient ?? null,
    priority: options.priority ?? 'reply',
  });
  if (options.recipient && Math.random() * CLEANUP_EVERY < 1) await forgetIdleRecipients(db, phoneNumberId);
  if (!slot.granted) {
    const bulk = options.priority === 'bulk';
    return { retryInMs: bulk ? bulkRetryInMs(slot.retryInMs, options.attempt ?? 1) : slot.retryInMs };
  }
  if (slot.waitMs > 0) await sleep(slot.waitMs);
  return null;
}
