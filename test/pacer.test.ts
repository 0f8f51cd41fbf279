// The per-number pacer: reservations against the real PostgreSQL (two connection pools racing for
// one number's slots), and bursts of replies over real HTTP that reach Meta's sandbox no faster
// than the number's rate: 20 per second on a coexistence number (through HandleInboundMessage and
// the older HandleMessage alike), not slowed to that on a default one.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createDb, type Db } from '../src/db.js';
import { reserveSendSlot, type PacedNumber } from '../src/store/pacer.js';
import { connectThroughMeta } from './helpers/meta-flow.js';
import { newBusinessId } from './helpers/factories.js';
import { startStack, type Stack } from './helpers/stack.js';
import type { InboundMessage } from '../src/meta/webhook-payload.js';
import { taskQueueFor } from '../src/temporal/names.js';

const coexistence: PacedNumber = { is_on_biz_app: true, coexistence_onboarded_at: null, throughput_level: null };
const standard: PacedNumber = { is_on_biz_app: false, coexistence_onboarded_at: null, throughput_level: 'STANDARD' };
const newNumberId = () => `pace-${randomUUID()}`;

describe('reserving send slots', () => {
  let first: Db;
  let second: Db;
  beforeAll(() => {
    first = createDb(inject('databaseUrl'), { poolMax: 4 });
    second = createDb(inject('databaseUrl'), { poolMax: 4 });
  });
  afterAll(async () => {
    await first?.destroy();
    await second?.destroy();
  });

  it('never gives two concurrent reservations from two connections the same slot', async () => {
    const number = newNumberId();
    const reserve = (db: Db) => reserveSendSlot(db, number, coexistence, { maxWaitMs: 60_000 });
    const slots = await Promise.all(Array.from({ length: 60 }, (_, i) => reserve(i % 2 === 0 ? first : second)));
    const granted = slots.flatMap((s) => (s.granted ? [s] : []));
    expect(granted).toHaveLength(60);
    const times = granted.map((s) => s.slot).sort((a, b) => a - b);
    expect(new Set(times).size).toBe(60);
    // 20 per second with a burst of two: each slot at least 1/19 s after the one before.
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(1e6 / 19 - 1);
    const waits = granted.map((s) => s.waitMs).sort((a, b) => a - b);
    expect(waits.slice(0, 2)).toEqual([0, 0]);
    expect(waits.at(-1)).toBeGreaterThan(2_900);
  });

  it('reserves only near slots, and a declined reservation spends nothing', async () => {
    const number = newNumberId();
    const started = Date.now();
    const slots = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        reserveSendSlot(i % 2 === 0 ? first : second, number, coexistence, { maxWaitMs: 1_000 }),
      ),
    );
    // On a busy machine the 50 statements spread out, and slots come near as time passes.
    const lateSlots = Math.ceil(((Date.now() - started) / 1000) * 19);
    const granted = slots.flatMap((s) => (s.granted ? [s] : []));
    const declined = slots.flatMap((s) => (s.granted ? [] : [s]));
    // A second's worth at most (plus the burst): the rest hear when to come back.
    expect(granted.length).toBeGreaterThanOrEqual(19);
    expect(granted.length).toBeLessThanOrEqual(22 + lateSlots);
    expect(granted.every((s) => s.waitMs <= 1_000)).toBe(true);
    expect(declined.map((s) => s.retryInMs).filter((ms) => ms < 1_000 || ms > 1_300)).toEqual([]);
    const row = await first('send_pacing').where({ phone_number_id: number }).first('next_slot_at');
    expect(Math.abs(row!.next_slot_at.getTime() - Math.max(...granted.map((s) => s.slot)) / 1000)).toBeLessThan(1);
  });

  it('lets a default number send a burst of 60 within a second', async () => {
    const number = newNumberId();
    const slots = await Promise.all(
      Array.from({ length: 60 }, () => reserveSendSlot(first, number, standard, { maxWaitMs: 1_000 })),
    );
    expect(slots.every((s) => s.granted)).toBe(true);
  });
});

describe('paced replies over HTTP', () => {
  let stack: Stack;
  let api: string;
  beforeAll(async () => {
    stack = await startStack({ api: true, sandbox: true });
    api = stack.api!.url;
  });
  afterAll(() => stack?.close());

  const BURST = 40;

  /** Customers of one number write at once (one webhook POST); the times their replies reached Meta. */
  async function burstOfReplies(phoneNumberId: string): Promise<number[]> {
    const state = stack.sandbox!.state;
    const base = `49${Date.now() % 1e8}`;
    state.sendCustomerMessages(
      Array.from({ length: BURST }, (_, i) => ({
        phoneNumberId,
        from: `${base}${String(i).padStart(2, '0')}`,
        type: 'text' as const,
        text: `hello ${i}`,
      })),
    );
    return sentTimes(phoneNumberId);
  }

  /** When the number's replies reached Meta, once all of the burst did. */
  async function sentTimes(phoneNumberId: string): Promise<number[]> {
    const sent = () =>
      stack
        .sandbox!.state.calls({ operation: 'messages.send', objectId: phoneNumberId })
        .filter((c) => c.effect === 'applied');
    await expect.poll(() => sent().length, { timeout: 45_000, interval: 200 }).toBe(BURST);
    return sent()
      .map((c) => Date.parse(c.at))
      .sort((a, b) => a - b);
  }

  /** The shortest time any run of `count` consecutive sends took. */
  const tightest = (times: number[], count: number) => Math.min(...times.slice(count - 1).map((t, i) => t - times[i]!));

  it('sends a burst of replies on a coexistence number at no more than 20 per second', async () => {
    const account = stack.sandbox!.state.createAccount({ numbers: 1, coexistence: true });
    const phoneNumberId = account.phoneNumberIds[0]!;
    await connectThroughMeta(api, newBusinessId(), { decision: 'approve', account: account.wabaId });
    const times = await burstOfReplies(phoneNumberId);
    // Any 21 sends in a row span at least a second (a little less for the HTTP hop's jitter).
    expect(tightest(times, 21)).toBeGreaterThanOrEqual(950);
    expect(times.at(-1)! - times[0]!).toBeGreaterThanOrEqual(((BURST - 20) / 20) * 1000);
  }, 90_000);

  it('paces the older HandleMessage path the same way', async () => {
    const account = stack.sandbox!.state.createAccount({ numbers: 1, coexistence: true });
    const phoneNumberId = account.phoneNumberIds[0]!;
    await connectThroughMeta(api, newBusinessId(), { decision: 'approve', account: account.wabaId });
    const customers = Array.from({ length: BURST }, (_, i) => ({
      phoneNumberId,
      from: `48${Date.now() % 1e8}${String(i).padStart(2, '0')}`,
      type: 'text' as const,
      text: `older ${i}`,
    }));
    // Meta received them (its window is open), but the webhook never reached the new path: they
    // are executions of the older workflow still running after a deploy, each carrying its message.
    const { messageIds } = stack.sandbox!.state.composeCustomerMessages(customers);
    const taskQueue = taskQueueFor(stack.config.temporal.taskQueue, 'handleMessage');
    await Promise.all(
      customers.map((customer, i) => {
        const message: InboundMessage = {
          wamid: messageIds[i]!,
          phoneNumberId,
          displayPhoneNumber: null,
          wabaId: account.wabaId,
          from: customer.from,
          contactName: null,
          sentAt: Date.now(),
          type: 'text',
          text: customer.text,
          content: { text: { body: customer.text } },
        };
        return stack.client.workflow.start('handleMessage', {
          taskQueue,
          workflowId: `pace-older-${randomUUID()}`,
          args: [message],
        });
      }),
    );
    const times = await sentTimes(phoneNumberId);
    expect(tightest(times, 21)).toBeGreaterThanOrEqual(950);
  }, 90_000);
});
