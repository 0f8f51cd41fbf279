// One business's flood cannot delay the others: message workflows of a business running at once
// are capped (MESSAGE_RUNS_PER_BUSINESS), on the API's fast path and in the outbox drain alike, so
// another business's customer is answered while the flood waits its turn. Real Temporal,
// PostgreSQL, HTTP and the Meta sandbox; a slow HTTP responder makes each run last.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBrain, type RunningBrain } from './helpers/brain.js';
import { connectedIntegration } from './helpers/connected.js';
import { startStack, type Stack } from './helpers/stack.js';

const RESPONDER_DELAY_MS = 1_500;
const CAP = 2;

describe('fairness between businesses', () => {
  let brain: RunningBrain;
  let stack: Stack;
  const inFlight = new Map<string, number>();
  const peak = new Map<string, number>();

  beforeAll(async () => {
    brain = await startBrain<{ businessId: string }>(({ businessId }, respond) => {
      inFlight.set(businessId, (inFlight.get(businessId) ?? 0) + 1);
      peak.set(businessId, Math.max(peak.get(businessId) ?? 0, inFlight.get(businessId)!));
      setTimeout(() => {
        inFlight.set(businessId, inFlight.get(businessId)! - 1);
        respond({ reply: { type: 'text', text: 'ok' } });
      }, RESPONDER_DELAY_MS);
    });
    stack = await startStack({
      api: true,
      sandbox: true,
      env: {
        REPLY_WEBHOOK_URL: brain.url,
        REPLY_WEBHOOK_SECRET: 'brain-secret-for-fairness-tests-0123',
        MESSAGE_RUNS_PER_BUSINESS: String(CAP),
        OUTBOX_DRAIN_INTERVAL_MS: '100',
        OUTBOX_CHECK_AFTER_MS: '300',
      },
    });
  });
  afterAll(async () => {
    await stack?.close();
    await brain?.close();
  });

  const connectedNumber = () => connectedIntegration(stack);

  it("answers another business's customer while one business's flood waits for its cap", async () => {
    const flood = await connectedNumber();
    const other = await connectedNumber();
    const state = stack.sandbox!.state;
    const sendAt = (wamid: string) =>
      state.calls({ operation: 'messages.send' }).find((c) => c.messageContextId === wamid && c.effect === 'applied')
        ?.at;

    // Eight customers of one business write at once: each answer takes the responder 1.5 s.
    const flooded = Array.from({ length: 8 }, (_, i) =>
      state.sendCustomerMessage({
        phoneNumberId: flood.phoneNumberId,
        from: `4930${Date.now() % 1e7}${i}`,
        type: 'text',
        text: `flood ${i}`,
      }),
    );
    // The flood holds the responder before the other business's customer writes.
    await expect.poll(() => inFlight.get(flood.businessId) ?? 0, { timeout: 20_000, interval: 50 }).toBeGreaterThan(0);
    const posted = Date.now();
    const { messageId } = state.sendCustomerMessage({
      phoneNumberId: other.phoneNumberId,
      from: `4931${Date.now() % 1e8}`,
      type: 'text',
      text: 'me too',
    });

    await expect.poll(() => sendAt(messageId), { timeout: 20_000 }).toBeTruthy();
    const otherAnswered = Date.parse(sendAt(messageId)!);
    await expect
      .poll(() => flooded.filter((m) => sendAt(m.messageId)).length, { timeout: 60_000, interval: 250 })
      .toBe(flooded.length);
    const floodDone = Math.max(...flooded.map((m) => Date.parse(sendAt(m.messageId)!)));

    // The flood ran at most CAP responder calls at once and took four rounds; the other business
    // was answered in about one round, long before the flood was done.
    expect(peak.get(flood.businessId)).toBeLessThanOrEqual(CAP);
    expect(peak.get(flood.businessId)).toBe(CAP);
    expect(otherAnswered - posted).toBeLessThan(2 * RESPONDER_DELAY_MS + 1_500);
    expect(floodDone - otherAnswered).toBeGreaterThan(RESPONDER_DELAY_MS);
  }, 90_000);
});
