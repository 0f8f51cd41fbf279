// Meta's send limits, enforced when a test asks for them (off by default): a number's throughput
// (error 130429 past it) and the pair rate between the number and one WhatsApp user (131056).
// Error wording and details are Meta's, from
// https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes
// The throughput figure counts the sends the sandbox accepted in the last second (Meta counts
// inbound messages too); the pair rate is one message per interval with Meta's documented burst
// of 45, kept as a cell rate (a burst borrows time the pair then repays).
// https://developers.facebook.com/documentation/business-messaging/whatsapp/throughput
import { GraphError } from './errors.js';
import type { PhoneNumber } from './model.js';

const PAIR_INTERVAL_MS = 6_000;
const PAIR_BURST = 45;

export interface SendLimitsInput {
  messagesPerSecond?: number | null;
  pairRate?: boolean;
  /** A test's own pair rule; Meta's by default. */
  pairIntervalMs?: number;
  pairBurst?: number;
}

interface SendLimits {
  messagesPerSecond: number | null;
  pair: { intervalMs: number; burst: number } | null;
  /** Times of the sends accepted in the last second. */
  recent: number[];
  /** Per WhatsApp user: the time the pair's slots are all free again. */
  pairs: Map<string, number>;
}

const limitsOf = new WeakMap<PhoneNumber, SendLimits>();

export function setSendLimits(number: PhoneNumber, input: SendLimitsInput): void {
  limitsOf.set(number, {
    messagesPerSecond: input.messagesPerSecond ?? null,
    pair: input.pairRate
      ? { intervalMs: input.pairIntervalMs ?? PAIR_INTERVAL_MS, burst: input.pairBurst ?? PAIR_BURST }
      : null,
    recent: [],
    pairs: new Map(),
  });
}

/** Refuses a send over the number's limits the way Meta does, or counts it. */
export function enforceSendLimits(number: PhoneNumber, waId: string, now: number): void {
  const limits = limitsOf.get(number);
  if (!limits) return;
  if (limits.messagesPerSecond !== null) {
    limits.recent = limits.recent.filter((t) => now - t < 1_000);
    if (limits.recent.length >= limits.messagesPerSecond)
      throw new GraphError({
        status: 400,
        code: 130429,
        message: '(#130429) Rate limit hit',
        details: 'Cloud API message throughput has been reached.',
      });
  }
  if (limits.pair) {
    const { intervalMs, burst } = limits.pair;
    const free = limits.pairs.get(waId) ?? now;
    if (free - (burst - 1) * intervalMs > now)
      throw new GraphError({
        status: 400,
        code: 131056,
        message: '(#131056) (Business Account, Consumer Account) pair rate limit hit',
        details:
          'Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time.',
      });
    limits.pairs.set(waId, Math.max(free, now) + intervalMs);
  }
  if (limits.messagesPerSecond !== null) limits.recent.push(now);
}
