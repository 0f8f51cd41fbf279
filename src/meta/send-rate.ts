// How fast Meta lets one business number send, in one place: status shows it, and the pacer that
// spaces sends per number reads it from here.
// https://developers.facebook.com/documentation/business-messaging/whatsapp/throughput
// (80 messages per second by default, up to 1,000 once upgraded) and the coexistence guide
// (numbers that stay on the WhatsApp Business app send at a fixed 20 per second).

const DEFAULT_MPS = 80;
const COEXISTENCE_MPS = 20;
/** Meta's `throughput.level` values and what each allows. */
const LEVEL_MPS: Record<string, number> = { STANDARD: DEFAULT_MPS, HIGH: 1_000 };

export function numberSendRate(number: { coexistence: boolean; throughputLevel?: string | null }): number {
  if (number.coexistence) return COEXISTENCE_MPS;
  return (number.throughputLevel && LEVEL_MPS[number.throughputLevel]) || DEFAULT_MPS;
}
