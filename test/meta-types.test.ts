// Meta's message types and statuses as of 2026, end to end: the sandbox posts each in the shape of
// Meta's webhooks reference (messages/edit, revoke, request_welcome, group, unsupported, errors and
// status), signed, to the API; real Temporal, PostgreSQL and HTTP.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectedIntegration } from './helpers/connected.js';
import { authHeaders } from './helpers/jwt.js';
import { startStack, type Stack } from './helpers/stack.js';
import { messagesWebhook, newWamid, postWebhook } from './helpers/webhooks.js';
import { quietPeriod } from './helpers/waits.js';

describe('Meta 2026 message types', () => {
  let stack: Stack;
  let api: string;
  beforeAll(async () => {
    stack = await startStack({ api: true, sandbox: true, env: { OUTBOX_DRAIN_INTERVAL_MS: '200' } });
    api = stack.api!.url;
  });
  afterAll(() => stack?.close());

  const connectedNumber = () => connectedIntegration(stack);
  const customer = () => `52${Date.now() % 1e9}${Math.floor(Math.random() * 100)}`;
  const rowOf = async (wamid: string) => stack.db('messages').where({ wamid, direction: 'inbound' }).first();
  const sendsTo = (wamid: string) =>
    stack
      .sandbox!.state.calls({ operation: 'messages.send' })
      .filter((c) => c.messageContextId === wamid && c.effect === 'applied');
  const replyTo = async (wamid: string) => {
    const inbound = (await rowOf(wamid))!;
    return stack.db('messages').where({ in_reply_to: inbound.id, direction: 'outbound' }).first();
  };
  const settings = async (businessId: string, body: unknown) =>
    fetch(`${api}/api/integrations/whatsapp/settings`, {
      method: 'PUT',
      headers: { ...(await authHeaders(businessId)), 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  it('applies an edit to the message it names, keeps the first text, and never answers the edit', async () => {
    const { phoneNumberId } = await connectedNumber();
    const from = customer();
    const state = stack.sandbox!.state;
    const original = state.sendCustomerMessage({ phoneNumberId, from, type: 'text', text: 'first words' }).messageId;
    await expect.poll(() => sendsTo(original).length, { timeout: 20_000 }).toBe(1);

    const edit = state.sendCustomerMessage({
      phoneNumberId,
      from,
      type: 'edit',
      edit: { original_message_id: original, message: { type: 'text', text: { body: 'better words' } } },
    }).messageId;
    await expect.poll(async () => (await rowOf(original))?.body, { timeout: 10_000 }).toBe('better words');
    const edited = (await rowOf(original))!;
    expect(edited.original_body).toBe('first words');
    expect(edited.edited_at).not.toBeNull();
    expect(edited.content).toMatchObject({ text: { body: 'first words' } });
    expect((await rowOf(edit))!.status).toBe('no_reply');
    await quietPeriod(1_500);
    expect(sendsTo(edit)).toEqual([]);
    expect(sendsTo(original)).toHaveLength(1);
  }, 60_000);

  it('marks a revoked message deleted, keeping its row', async () => {
    const { phoneNumberId } = await connectedNumber();
    const from = customer();
    const state = stack.sandbox!.state;
    const original = state.sendCustomerMessage({ phoneNumberId, from, type: 'text', text: 'oops' }).messageId;
    await expect.poll(() => sendsTo(original).length, { timeout: 20_000 }).toBe(1);
    const revoke = state.sendCustomerMessage({
      phoneNumberId,
      from,
      type: 'revoke',
      revoke: { original_message_id: original },
    }).messageId;
    await expect.poll(async () => (await rowOf(original))?.revoked_at ?? null, { timeout: 10_000 }).not.toBeNull();
    expect((await rowOf(original))!.body).toBe('oops');
    expect((await rowOf(revoke))!.status).toBe('no_reply');
  }, 60_000);

  it('greets a welcome request with the welcome text only once the business set one', async () => {
    const { businessId, phoneNumberId } = await connectedNumber();
    const state = stack.sandbox!.state;
    const before = state.sendCustomerMessage({ phoneNumberId, from: customer(), type: 'request_welcome' }).messageId;
    await expect.poll(async () => (await rowOf(before))?.status, { timeout: 10_000 }).toBe('no_reply');

    const put = await settings(businessId, { welcomeText: 'Welcome to Acme! Ask us anything.' });
    expect(put.status).toBe(200);
    expect(await put.json()).toMatchObject({ welcomeText: 'Welcome to Acme! Ask us anything.' });
    const after = state.sendCustomerMessage({ phoneNumberId, from: customer(), type: 'request_welcome' }).messageId;
    await expect.poll(() => sendsTo(after).length, { timeout: 20_000 }).toBe(1);
    expect(sendsTo(after)[0]!.textBody).toBe('Welcome to Acme! Ask us anything.');
    await expect.poll(async () => (await rowOf(after))?.status, { timeout: 10_000 }).toBe('replied');
    expect(sendsTo(before)).toEqual([]);
    // A typing indicator promises a reply: only the welcome that gets one shows it.
    const typing = (wamid: string) =>
      state.calls({ operation: 'messages.read' }).filter((c) => c.messageId === wamid && c.typingIndicator === 'text');
    expect(typing(before)).toEqual([]);
    expect(typing(after)).toHaveLength(1);

    // Removing it again restores silence.
    expect((await settings(businessId, { welcomeText: null })).status).toBe(200);
    const later = state.sendCustomerMessage({ phoneNumberId, from: customer(), type: 'request_welcome' }).messageId;
    await expect.poll(async () => (await rowOf(later))?.status, { timeout: 10_000 }).toBe('no_reply');
  }, 60_000);

  it('stores group messages, unsupported messages with their errors and removed reactions, answering none', async () => {
    const { phoneNumberId } = await connectedNumber();
    const from = customer();
    const state = stack.sandbox!.state;
    const group = state.sendCustomerMessage({
      phoneNumberId,
      from,
      type: 'text',
      text: 'Hello group',
      groupId: 'Y2FwaV9ncm91cDoxNzA1NTU1MDEzOToxMjAzNjM0MDQ2OTQyMzM4MjAZD',
    }).messageId;
    const errors = [
      {
        code: 131051,
        title: 'Message type unknown',
        message: 'Message type unknown',
        error_data: { details: 'Message type is currently not supported.' },
      },
    ];
    const unsupported = state.sendCustomerMessage({
      phoneNumberId,
      from,
      type: 'unsupported',
      unsupported: { type: 'poll_update' },
      errors,
    }).messageId;
    const unreacted = state.sendCustomerMessage({
      phoneNumberId,
      from,
      type: 'reaction',
      reaction: { message_id: group, emoji: '' },
    }).messageId;
    for (const wamid of [group, unsupported, unreacted])
      await expect.poll(async () => (await rowOf(wamid))?.status, { timeout: 10_000 }).toBe('no_reply');
    expect((await rowOf(group))!.body).toBe('Hello group');
    expect((await rowOf(unsupported))!.content).toMatchObject({ errors, unsupported: { type: 'poll_update' } });
    await quietPeriod(1_500);
    for (const wamid of [group, unsupported, unreacted]) expect(sendsTo(wamid)).toEqual([]);
  }, 60_000);

  it('moves a reply forward on played and stores the pricing of its statuses', async () => {
    const { phoneNumberId } = await connectedNumber();
    const state = stack.sandbox!.state;
    const inbound = state.sendCustomerMessage({ phoneNumberId, from: customer(), type: 'text', text: 'hi' }).messageId;
    await expect.poll(async () => (await replyTo(inbound))?.status, { timeout: 30_000 }).toBe('read');
    const reply = (await replyTo(inbound))!;

    state.reportStatus(phoneNumberId, reply.wamid!, 'played');
    await expect.poll(async () => (await replyTo(inbound))?.status, { timeout: 10_000 }).toBe('played');
    const statuses = await stack.db('message_statuses').where({ wamid: reply.wamid! }).orderBy('occurred_at');
    expect(statuses.map((s) => s.status).sort()).toEqual(['delivered', 'played', 'read', 'sent']);
    expect(statuses.find((s) => s.status === 'sent')!.pricing).toEqual({
      billable: false,
      pricing_model: 'PMP',
      category: 'service',
      type: 'free_customer_service',
    });
    expect(statuses.find((s) => s.status === 'sent')!.conversation).toMatchObject({ origin: { type: 'service' } });
    expect(statuses.find((s) => s.status === 'played')!.pricing).toBeNull();
  }, 60_000);

  it('stores pricing and error details of statuses taken together (the general path)', async () => {
    const { phoneNumberId } = await connectedNumber();
    const sent = newWamid();
    const failed = newWamid();
    const res = await postWebhook(
      api,
      messagesWebhook(phoneNumberId, {
        statuses: [
          {
            id: sent,
            status: 'sent',
            timestamp: '1750030073',
            recipient_id: '16505551234',
            conversation: {
              id: '72b14d6bd5407799e66f64d1b338e567',
              expiration_timestamp: '1750116480',
              origin: { type: 'marketing' },
            },
            pricing: { billable: true, pricing_model: 'PMP', type: 'regular', category: 'marketing' },
          },
          {
            id: failed,
            status: 'failed',
            timestamp: '1751142888',
            recipient_id: '16505551234',
            errors: [
              {
                code: 131049,
                title: 'This message was not delivered to maintain healthy ecosystem engagement.',
                message: 'This message was not delivered to maintain healthy ecosystem engagement.',
                error_data: {
                  details: 'In order to maintain a healthy ecosystem engagement, the message failed to be delivered.',
                },
                href: 'https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/',
              },
            ],
          },
        ],
      }),
    );
    expect(res.status).toBe(200);
    const sentRow = (await stack.db('message_statuses').where({ wamid: sent }).first())!;
    expect(sentRow.pricing).toEqual({ billable: true, pricing_model: 'PMP', type: 'regular', category: 'marketing' });
    expect(sentRow.conversation).toMatchObject({ id: '72b14d6bd5407799e66f64d1b338e567' });
    const failedRow = (await stack.db('message_statuses').where({ wamid: failed }).first())!;
    expect(failedRow.errors![0]!.details).toBe(
      'In order to maintain a healthy ecosystem engagement, the message failed to be delivered.',
    );
  }, 60_000);

  it("keeps Meta's errors for a number as a whole", async () => {
    const { phoneNumberId } = await connectedNumber();
    stack.sandbox!.state.reportErrors(phoneNumberId, [
      {
        code: 130429,
        title: 'Rate limit hit',
        message: 'Rate limit hit',
        details: 'Cloud API message throughput has been reached.',
      },
    ]);
    await expect
      .poll(async () => stack.db('webhook_errors').where({ phone_number_id: phoneNumberId }), { timeout: 10_000 })
      .toEqual([
        expect.objectContaining({
          code: 130429,
          title: 'Rate limit hit',
          details: 'Cloud API message throughput has been reached.',
        }),
      ]);
  }, 60_000);
});
