// Waiting for a send slot inside an activity: a near slot is waited for in-process; a far one is
// not reserved, and the caller fails the attempt with a retry delay (pacedFailure), because the
// reply's first attempts run as local activities inside a workflow task that must not stall.
// Replies and agents' messages wait up to a second; bulk sends take only a slot that is free now.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Db } from '../src/db.js';
import { forgetIdleRecipients, reserveSendSlot, type PacedNumber, type SendPriority } from '../src/store/pacer.js';

/** The longest a reply's or an agent's attempt waits in-process for its slot. */
const MAX_IN_PROCESS_WAIT_MS = 1_000;
/** About one reservation in this many also deletes the number's idle recipient rows. */
const CLEANUP_EVERY = 500;

/**
 * Waits for the number's next send slot, and the recipient's when one is named (Meta's pair rate);
 * answers how long until one is near when it is not.
 */
export async function waitForSendSlot(
  db: Db,
  phoneNumberId: string,
  number: PacedNumber | undefined,
  options: { recipient?: string | null; priority?: SendPriority } = {},
): Promise<{ retryInMs: number } | null> {
  const slot = await reserveSendSlot(db, phoneNumberId, number, {
    maxWaitMs: MAX_IN_PROCESS_WAIT_MS,
    recipient: options.recipient ?? null,
    priority: options.priority ?? 'reply',
  });
  if (options.recipient && Math.random() * CLEANUP_EVERY < 1) await forgetIdleRecipients(db, phoneNumberId);
  if (!slot.granted) return { retryInMs: slot.retryInMs };
  if (slot.waitMs > 0) await sleep(slot.waitMs);
  return null;
}
