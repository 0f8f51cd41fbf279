// Waiting for a send slot inside an activity: a near slot is waited for in-process; a far one is
// not reserved, and the caller fails the attempt with a retry delay (pacedFailure), because the
// reply's first attempts run as local activities inside a workflow task that must not stall.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Db } from '../src/db.js';
import { reserveSendSlot, type PacedNumber } from '../src/store/pacer.js';

/** The longest an attempt waits in-process for its slot. */
const MAX_IN_PROCESS_WAIT_MS = 1_000;

/** Waits for the number's next send slot; answers how long until one is near when it is not. */
export async function waitForSendSlot(
  db: Db,
  phoneNumberId: string,
  number: PacedNumber | undefined,
): Promise<{ retryInMs: number } | null> {
  const slot = await reserveSendSlot(db, phoneNumberId, number, { maxWaitMs: MAX_IN_PROCESS_WAIT_MS });
  if (!slot.granted) return { retryInMs: slot.retryInMs };
  if (slot.waitMs > 0) await sleep(slot.waitMs);
  return null;
}
