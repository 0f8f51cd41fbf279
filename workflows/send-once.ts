// The loop every send of a workflow runs (a reply, a business's send): the first attempts run as a
// local activity inside the workflow task; a send that keeps failing moves to a regular activity
// with durable retries. The activity is idempotent (its outbound row is reserved before the call),
// so an attempt repeated after a crash never sends twice. While the row's earlier outcome is
// unknown the loop waits on a timer, holding no activity slot.
import { ActivityFailure, ApplicationFailure, isCancellation, log, sleep } from '@temporalio/workflow';

/** What the caller makes of one attempt's result: done with a value, or wait and try again. */
export type Settled<T> = { done: T } | { waitMs: number } | 'wait';

export interface SendOnce<R, T> {
  /** One attempt as a local activity (quick retries). */
  now: () => Promise<R>;
  /** One attempt as a regular activity (durable retries). */
  durably: () => Promise<R>;
  /** Reads an attempt's result. */
  settle: (result: R) => Promise<Settled<T>>;
  /** The durable retries ran out: record why (`detail`), so nothing fails silently. */
  giveUp: (detail: string) => Promise<T>;
}

/** The longest the loop waits between attempts whose earlier outcome is unknown. */
const MAX_PAUSE_MS = 10_000;

export async function sendOnce<R, T>(send: SendOnce<R, T>): Promise<T> {
  let durable = false;
  let pause = 250;
  for (;;) {
    let result: R;
    try {
      result = durable ? await send.durably() : await send.now();
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
      return send.giveUp(detail);
    }
    const settled = await send.settle(result);
    if (typeof settled === 'object' && 'done' in settled) return settled.done;
    if (typeof settled === 'object') {
      await sleep(settled.waitMs);
      continue;
    }
    // An earlier attempt's outcome is unknown: wait for the status that settles it, or the grace.
    await sleep(pause);
    pause = Math.min(pause * 2, MAX_PAUSE_MS);
  }
}
