// Conversations answered in order by construction: the oldest waiting message owns the turn, one
// broken message never holds a conversation, the outbox starts what the API could not, and username
// users (a BSUID, no phone number) are answered through `recipient`. Real Temporal, PostgreSQL, HTTP
// and the Meta sandbox.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseWebhook } from '../src/meta/webhook-payload.js';
import { intakeNames } from '../src/services/webhooks.js';
import { intakeWebhook } from '../src/store/intake.js';
import { messageWorkflowId, taskQueueFor } from '../src/temporal/names.js';
import { startBrain, type RunningBrain } from './helpers/brain.js';
import { connectedIntegration } from './helpers/connected.js';
import { startStack, type Stack } from './helpers/stack.js';
import { postWebhook } from './helpers/webhooks.js';
import { quietPeriod } from './helpers/waits.js';

const BRAIN_SECRET = 'brain-secret-for-turn-tests-012345';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface BrainRequest {
  messageId: string;
  from: string;
  customer: { id: string; phone?: string; bsuid?: string; username?: string };
  messages: Array<{ messageId: string }>;
}

describe('turns', () => {
  let brain: RunningBrain;
  let stack: Stack;
  let delayMs = 0;
  const requests: BrainRequest[] = [];

  beforeAll(async () => {
    brain = await startBrain<BrainRequest>((body, respond) => {
      requests.push(body);
      setTimeout(() => respond({ reply: { type: 'text', text: `answer to ${body.messages.length}` } }), delayMs);
    });
    stack = await startStack({
      api: true,
      sandbox: true,
      env: {
        REPLY_WEBHOOK_URL: brain.url,
        REPLY_WEBHOOK_SECRET: BRAIN_SECRET,
        REPLY_WEBHOOK_TIMEOUT_MS: '5000',
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
  const rowOf = async (wamid: string) => stack.db('messages').where({ wamid, direction: 'inbound' }).first();
  const sendsTo = (wamid: string) =>
    stack
      .sandbox!.state.calls({ operation: 'messages.send' })
      .filter((c) => c.messageContextId === wamid && c.effect === 'applied');

  it('closes a message whose workflow keeps failing, and answers the next two in one reply', async () => {
    delayMs = 1_000;
    const { phoneNumberId } = await connectedNumber();
    const from = `49${Date.now() % 1e9}`;
    const state = stack.sandbox!.state;
    const m1 = state.sendCustomerMessage({ phoneNumberId, from, type: 'text', text: 'one' }).messageId;
    await expect.poll(() => rowOf(m1), { timeout: 10_000 }).toBeTruthy();
    const m1Row = await rowOf(m1);
    // m1's workflow fails every time it runs: it is terminated as soon as it is seen running.
    let killing = true;
    const killer = (async () => {
      const handle = stack.client.workflow.getHandle(messageWorkflowId(m1Row!.id));
      while (killing) {
        const running = await handle.describe().then(
          (d) => d.status.name === 'RUNNING',
          () => false,
        );
        if (running) await handle.terminate('forced to fail').catch(() => undefined);
        await sleep(30);
      }
    })();
    // m1 owns its turn (frozen alone) before the others arrive.
    await expect
      .poll(async () => (await stack.db('turns').where({ head_message_id: m1Row!.id }).first())?.id, {
        timeout: 10_000,
      })
      .toBeTruthy();
    const m2 = state.sendCustomerMessage({ phoneNumberId, from, type: 'text', text: 'two' }).messageId;
    // m2 is stored before m3 arrives: two webhooks, in this order.
    await expect.poll(async () => (await rowOf(m2))?.id, { timeout: 10_000 }).toBeTruthy();
    const m3 = state.sendCustomerMessage({ phoneNumberId, from, type: 'text', text: 'three' }).messageId;

    await expect.poll(async () => (await rowOf(m1))?.status, { timeout: 30_000 }).toBe('failed');
    killing = false;
    await killer;
    expect((await rowOf(m1))!.error).toMatchObject({ reason: 'workflow_failed' });
    await expect.poll(async () => (await rowOf(m3))?.status, { timeout: 30_000 }).toBe('replied');
    expect((await rowOf(m2))!.status).toBe('covered');
    await quietPeriod(1_500);
    const sends = state
      .calls({ operation: 'messages.send' })
      .filter((c) => [m1, m2, m3].includes(c.messageContextId ?? '') && c.effect === 'applied');
    expect(sends.map((s) => s.messageContextId)).toEqual([m3]);
    const answered = requests.filter((r) => r.messages.some((m) => m.messageId === m2 || m.messageId === m3));
    expect(answered.map((r) => r.messages.map((m) => m.messageId))).toEqual([[m2, m3]]);

    // The only executions on the messages queue are the three messages' HandleMessage runs (m1's
    // restarted ones among them): no status workflow, nothing else.
    const queue = taskQueueFor(stack.config.temporal.taskQueue, 'handleInboundMessage');
    const rows = await stack.db('messages').whereIn('wamid', [m1, m2, m3]).orderBy('sequence').select('id');
    const executions = async () => {
      const seen = new Map<string, string>();
      for await (const w of stack.client.workflow.list({ query: `TaskQueue = '${queue}'` }))
        seen.set(w.workflowId, w.type);
      return [...seen.entries()].sort();
    };
    const expected = rows.map((r) => [messageWorkflowId(r.id), 'handleInboundMessage']).sort();
    await expect.poll(executions, { timeout: 10_000 }).toEqual(expected);
    delayMs = 0;
  }, 90_000);

  it('starts the workflow through the outbox drain when the API died between commit and start', async () => {
    const { phoneNumberId } = await connectedNumber();
    const from = `44${Date.now() % 1e9}`;
    const { payload, messageIds } = stack.sandbox!.state.composeCustomerMessages([
      { phoneNumberId, from, type: 'text', text: 'anyone?' },
    ]);
    // The commit happens; no start follows (as if the API was killed right after it).
    const result = await intakeWebhook(stack.db, parseWebhook(payload), intakeNames(stack.config));
    expect(result.starts).toHaveLength(1);
    await expect.poll(() => sendsTo(messageIds[0]!).length, { timeout: 20_000 }).toBe(1);
    expect((await stack.db('workflow_starts').where({ id: result.starts[0]!.id }).first())!.attempts).toBe(1);
  }, 40_000);

  it('answers a username user through recipient, moves its status forward, and keeps one customer row', async () => {
    const { businessId, phoneNumberId } = await connectedNumber();
    const from = `33${Date.now() % 1e9}`;
    const state = stack.sandbox!.state;
    const { payload, messageIds } = state.composeCustomerMessages([
      { phoneNumberId, from, username: '@ana', type: 'text', text: 'hi from ana' },
    ]);
    // Meta withholds the phone number: an empty `from`, the BSUID in from_user_id and contacts[].user_id.
    const value = (
      payload as { entry: Array<{ changes: Array<{ value: { messages: Array<Record<string, unknown>> } }> }> }
    ).entry[0]!.changes[0]!.value;
    value.messages[0]!.from = '';
    expect((await postWebhook(stack.api!.url, payload)).status).toBe(200);
    const wamid = messageIds[0]!;
    await expect.poll(() => sendsTo(wamid).length, { timeout: 20_000 }).toBe(1);
    const bsuid = state.customerList().find((c) => c.waId === from)!.bsuid;
    expect(sendsTo(wamid)[0]!.to).toBe(bsuid);
    const request = requests.find((r) => r.messageId === wamid)!;
    expect(request.customer).toMatchObject({ bsuid, username: '@ana' });
    expect(request.customer.phone).toBeUndefined();

    const inbound = (await rowOf(wamid))!;
    // The statuses of that reply carry no recipient_id, only the BSUID and our callback data.
    await expect
      .poll(
        async () =>
          (await stack.db('messages').where({ in_reply_to: inbound.id, direction: 'outbound' }).first())?.status,
        { timeout: 10_000 },
      )
      .toBe('read');
    const reply = (await stack.db('messages').where({ in_reply_to: inbound.id, direction: 'outbound' }).first())!;
    const statuses = await stack.db('message_statuses').where({ wamid: reply.wamid! });
    expect(statuses.map((s) => s.recipient_id)).toEqual([null, null, null]);
    expect(statuses.map((s) => s.callback_data)).toEqual([String(reply.id), String(reply.id), String(reply.id)]);

    // Later the same person writes with both phone number and BSUID: still one customer.
    const later = state.sendCustomerMessage({
      phoneNumberId,
      from,
      username: '',
      type: 'text',
      text: 'me again',
    }).messageId;
    await expect.poll(() => sendsTo(later).length, { timeout: 20_000 }).toBe(1);
    const customers = await stack.db('customers').where({ business_id: businessId });
    expect(customers).toHaveLength(1);
    expect(customers[0]).toMatchObject({ bsuid, phone: from, username: '@ana' });
    expect(sendsTo(later)[0]!.to).toBe(from);
  }, 60_000);

  it('moves the customer on user_id_update: the next message under the new BSUID joins the same conversation', async () => {
    const { businessId, phoneNumberId } = await connectedNumber();
    const from = `36${Date.now() % 1e9}`;
    const state = stack.sandbox!.state;
    // A username user: webhooks carry the BSUID alone, so only the update can tie the new id to the row.
    const m1 = state.sendCustomerMessage({ phoneNumberId, from, username: '@bo', type: 'text', text: 'first' });
    await expect.poll(() => sendsTo(m1.messageId).length, { timeout: 20_000 }).toBe(1);
    const before = (await rowOf(m1.messageId))!;

    const { previous, current } = state.changeCustomerUserId(phoneNumberId, from);
    expect(current).not.toBe(previous);
    await expect
      .poll(async () => (await stack.db('customers').where({ id: before.customer_id! }).first())?.bsuid, {
        timeout: 10_000,
      })
      .toBe(current);
    // The sandbox records the delivery when our 200 reaches it, which can come after the commit.
    await expect
      .poll(() => state.webhooks({ field: 'user_id_update' }).filter((w) => w.phoneNumberId === phoneNumberId), {
        timeout: 10_000,
      })
      .toEqual([expect.objectContaining({ delivered: true, lastHttpStatus: 200 })]);

    const m2 = state.sendCustomerMessage({ phoneNumberId, from, type: 'text', text: 'second' }).messageId;
    await expect.poll(() => sendsTo(m2).length, { timeout: 20_000 }).toBe(1);
    const after = (await rowOf(m2))!;
    expect(after.customer_id).toBe(before.customer_id);
    expect(after.conversation_id).toBe(before.conversation_id);
    expect(after.sequence).toBeGreaterThan(before.sequence!);
    expect(await stack.db('customers').where({ business_id: businessId })).toEqual([
      expect.objectContaining({ id: before.customer_id, bsuid: current, username: '@bo' }),
    ]);
    expect(sendsTo(m2)[0]!.to).toBe(current);
  }, 60_000);

  it('drops a revoked message from the line: the next turn answers the others and never it', async () => {
    delayMs = 2_000;
    const { phoneNumberId } = await connectedNumber();
    const from = `47${Date.now() % 1e9}`;
    const state = stack.sandbox!.state;
    const m0 = state.sendCustomerMessage({ phoneNumberId, from, type: 'text', text: 'zero' }).messageId;
    // m0's turn is frozen and its responder is slow: m1 and m2 wait behind it.
    await expect.poll(() => requests.some((r) => r.messageId === m0), { timeout: 10_000 }).toBe(true);
    const m1 = state.sendCustomerMessage({ phoneNumberId, from, type: 'text', text: 'one' }).messageId;
    const m2 = state.sendCustomerMessage({ phoneNumberId, from, type: 'text', text: 'two' }).messageId;
    await expect.poll(async () => (await rowOf(m2))?.status, { timeout: 10_000 }).toBe('received');
    state.sendCustomerMessage({ phoneNumberId, from, type: 'revoke', revoke: { original_message_id: m2 } });
    await expect.poll(async () => (await rowOf(m2))?.status, { timeout: 10_000 }).toBe('no_reply');
    expect((await rowOf(m0))!.status).toBe('received');

    await expect.poll(() => sendsTo(m1).length, { timeout: 30_000 }).toBe(1);
    // Meta has the send before the worker records Meta's answer: the row follows shortly.
    await expect.poll(async () => (await rowOf(m1))?.status, { timeout: 10_000 }).toBe('replied');
    expect((await rowOf(m2))!.error).toEqual({ reason: 'revoked' });
    const turnFor = requests.find((r) => r.messages.some((m) => m.messageId === m1))!;
    expect(turnFor.messages.map((m) => m.messageId)).toEqual([m1]);
    await quietPeriod(1_000);
    expect(sendsTo(m2)).toEqual([]);
    expect(requests.filter((r) => r.messages.some((m) => m.messageId === m2))).toEqual([]);
    delayMs = 0;
  }, 60_000);
});
