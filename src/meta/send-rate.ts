// How fast Meta lets one business number send, in one place: status shows it, and the pacer that
// spaces sends per number and per recipient reads it from here.
// https://developers.facebook.com/documentation/business-messaging/whatsapp/throughput
// (80 messages per second by default, up to 1,000 once upgraded) and the coexistence guide
// (numbers that stay on the WhatsApp Business app send at a fixed 20 per second).

const DEFAULT_MPS = 80;
const COEXISTENCE_MPS = 20;
/** Meta's `throughput.level` values and what each allows. */
const LEVEL_MPS: Record<string, number> = { STANDARD: DEFAULT_MPS, HIGH: 1_000 };

/**
 * Meta's pair rate: one business number may send one WhatsApp user about one message every 6
 * seconds (error 131056 past it). Meta also lets a pair burst (up to 45 messages in 6 seconds) and
 * then holds the pair back until the borrowed time is repaid; we never borrow, so no reading of
 * that allowance can make us meet 131056, and a runaway loop cannot block a customer for minutes.
 * https://developers.facebook.com/documentation/business-messaging/whatsapp/throughput (pair rate limit)
 * and https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes (131056)
 */
export const PAIR_INTERVAL_SECONDS = 6;

export function numberSendRate(number: {
  coexistence: boolean;
  throughputLevel?: string | null;
  /** An operator's cap below Meta's rate (send_rate_limit_mps). */
  limit?: number | null;
}): number {
  const meta = number.coexistence
    ? COEXISTENCE_MPS
    : (number.throughputLevel && LEVEL_MPS[number.throughputLevel]) || DEFAULT_MPS;
  return number.limit && number.limit > 0 ? Math.min(meta, number.limit) : meta;
}
