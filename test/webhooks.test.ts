import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectedIntegration } from './helpers/connected.js';
import { getStatus } from './helpers/meta-flow.js';
import { freePort } from './helpers/ports.js';
import { startStack, TEST_SECRETS, type Stack } from './helpers/stack.js';
import { messageItem, messagesWebhook, newWamid, postWebhook } from './helpers/webhooks.js';
import { quietPeriod } from './helpers/waits.js';

/** The app secret before a rotation: Meta may still sign with it for a while. */
const PREVIOUS_APP_SECRET = 'the-app-secret-before-the-rotation';

describe('WhatsApp webhooks', () => {
  let stack: Stack;
  let api: string;
  beforeAll(async () => {
    stack = await startStack({
      api: true,
      sandbox: true,
      env: {
        GRAPH_TIMEOUT_MS: '2000',
        SEND_UNKNOWN_OUTCOME_GRACE_MS: '3000',
        WHATSAPP_APP_SECRET_PREVIOUS: PREVIOUS_APP_SECRET,
      },
    });
    api = stack.api!.url;
  });
  afterAll(() => stack?.close());

  const connectedNumber = () => connectedIntegration(stack);
  const customer = () => `49${Date.now() % 1e9}${Math.floor(Math.random() * 100)}`;
  const replies = (phoneNumberId: string, from: string) =>
    stack.sandbox!.state.conversation(phoneNumberId, from).filter((m) => m.direction === 'outbound');
  const sendsFor = (wamid: string) =>
    stack
      .sandbox!.state.calls({ operation: 'messages.send' })
      .filter((c) => c.messageContextId === wamid && c.effect === 'applied');
  const inbound = (wamid: string) => stack.db('messages').where({ wamid, direction: 'inbound' });

  describe('verification handshake', () => {
    const verify = (params: Record<string, string>) =>
      fetch(`${api}/api/webhooks/whatsapp?${new URLSearchParams(params)}`);

    it('echoes the challenge as plain text for the right verify token', async () => {
      const res = await verify({
        'hub.mode': 'subscribe',
        'hub.verify_token': TEST_SECRETS.WHATSAPP_VERIFY_TOKEN,
        'hub.challenge': '1158201444',
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(await res.text()).toBe('1158201444');
    });

    it('answers 403 for a wrong token or mode', async () => {
      expect(
        (await verify({ 'hub.mode': 'subscribe', 'hub.verify_token': 'wrong', 'hub.challenge': '1' })).status,
      ).toBe(403);
      expect(
        (
          await verify({
            'hub.mode': 'unsubscribe',
            'hub.verify_token': TEST_SECRETS.WHATSAPP_VERIFY_TOKEN,
            'hub.challenge': '1',
          })
        ).status,
      ).toBe(403);
      expect((await verify({ 'hub.verify_token': TEST_SECRETS.WHATSAPP_VERIFY_TOKEN })).status).toBe(403);
    });
  });

  describe('bad deliveries', () => {
    it('refuses unsigned, wrongly signed and truncated signatures with 401, starting nothing', async () => {
      const wamid = newWamid();
      const body = JSON.stringify(
        messagesWebhook('123', { messages: [messageItem({ phoneNumberId: '123', from: '1', wamid })] }),
      );
      const good = (await import('../src/meta/signature.js')).signBody(body, TEST_SECRETS.META_APP_SECRET);
      for (const signature of [
        null,
        '',
        'sha256=',
        good.slice(0, -1),
        good.replace(/.$/, (c) => (c === '0' ? '1' : '0')),
        good.replace('sha256=', 'sha1='),
      ]) {
        const res = await postWebhook(api, body, { signature });
        expect(res.status).toBe(401);
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_signature');
      }
      expect((await postWebhook(api, body, { secret: 'another-secret' })).status).toBe(401);
      await expect(stack.client.workflow.getHandle(`message/${wamid}`).describe()).rejects.toThrow();
      expect(await inbound(wamid)).toHaveLength(0);
    });

    it('accepts a signature made with the previous app secret during a rotation', async () => {
      const { phoneNumberId } = await connectedNumber();
      const wamid = newWamid();
      const body = messagesWebhook(phoneNumberId, {
        messages: [messageItem({ phoneNumberId, from: customer(), wamid })],
      });
      expect((await postWebhook(api, body, { secret: PREVIOUS_APP_SECRET })).status).toBe(200);
      expect(await inbound(wamid)).toHaveLength(1);
    });

    it('answers 413 for a body over the limit and 400 for invalid JSON', async () => {
      const huge = Buffer.alloc(5 * 1024 * 1024, 'a').toString();
      expect((await postWebhook(api, huge)).status).toBe(413);
      const res = await postWebhook(api, '{"object": "whatsapp_business_account", ');
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_json');
    });

    it('accepts a 3 MB batch: a valid delivery is never 413', async () => {
      const padding = 'x'.repeat(2_900_000);
      const res = await postWebhook(api, { object: 'whatsapp_business_account', entry: [], padding });
      expect(res.status).toBe(200);
    });

    it('answers 200 to valid JSON that is not a WhatsApp payload', async () => {
      expect((await postWebhook(api, { object: 'page', entry: [{ id: '1' }] })).status).toBe(200);
      expect((await postWebhook(api, [1, 2, 3])).status).toBe(200);
    });
  });

  it('answers a customer text message end to end, marks it read, and records delivery statuses', async () => {
    const { phoneNumberId } = await connectedNumber();
    const from = customer();
    const { messageId } = stack.sandbox!.state.sendCustomerMessage({
      phoneNumberId,
      from,
      name: 'Ana',
      type: 'text',
      text: 'Do you open on Sunday?',
    });
    await expect.poll(() => replies(phoneNumberId, from).length, { timeout: 20_000 }).toBe(1);
    const [reply] = replies(phoneNumberId, from);
    expect(reply!.text).toBe(stack.config.reply.defaultText);
    expect(reply!.contextMessageId).toBe(messageId);
    await expect
      .poll(() => stack.sandbox!.state.conversation(phoneNumberId, from).find((m) => m.id === messageId)?.readAt, {
        timeout: 10_000,
      })
      .toBeTruthy();

    // The sandbox sees the send before our row records Meta's answer: wait for the row.
    await expect.poll(async () => (await inbound(messageId))[0]?.status, { timeout: 10_000 }).toBe('replied');
    const [stored] = await inbound(messageId);
    expect(stored).toMatchObject({
      direction: 'inbound',
      type: 'text',
      body: 'Do you open on Sunday?',
      customer_name: 'Ana',
      status: 'replied',
    });
    await expect
      .poll(async () => (await stack.db('messages').where({ in_reply_to: stored!.id }).first())?.status, {
        timeout: 10_000,
      })
      .toBe('read');
    const outbound = await stack.db('messages').where({ in_reply_to: stored!.id }).first();
    expect(outbound!.wamid).toBe(reply!.id);
    expect((await stack.db('message_statuses').where({ wamid: reply!.id })).map((s) => s.status).sort()).toEqual([
      'delivered',
      'read',
      'sent',
    ]);
  });

  it('stores one message and sends one reply when the same webhook arrives three times', async () => {
    const { phoneNumberId } = await connectedNumber();
    const state = stack.sandbox!.state;
    const { messageId, webhookId } = state.sendCustomerMessage({
      phoneNumberId,
      from: customer(),
      type: 'text',
      text: 'once please',
    });
    // Meta delivers it once; we deliver the very same body twice more, concurrently and late.
    const body = state.webhooks().find((w) => w.webhookId === webhookId)!.payload;
    const again = await Promise.all([postWebhook(api, body), postWebhook(api, body)]);
    expect(again.map((r) => r.status)).toEqual([200, 200]);
    await expect.poll(() => sendsFor(messageId).length, { timeout: 20_000 }).toBe(1);
    expect((await postWebhook(api, body)).status).toBe(200);
    await quietPeriod(1500);
    expect(sendsFor(messageId)).toHaveLength(1);
    expect(await inbound(messageId)).toHaveLength(1);
  });

  it('handles a batch of messages and statuses in one POST', async () => {
    const { phoneNumberId } = await connectedNumber();
    const from = [customer(), customer(), customer()];
    const sent = stack.sandbox!.state.sendCustomerMessages(
      from.map((f, i) => ({ phoneNumberId, from: f, type: 'text', text: `batch ${i}` })),
    );
    // Statuses ride along in a POST of their own, and again combined with a message.
    const statuses = [
      { id: newWamid(), status: 'delivered', timestamp: String(Math.floor(Date.now() / 1000)), recipient_id: from[0] },
    ];
    const extra = messageItem({ phoneNumberId, from: '0000', text: 'for nobody' });
    expect((await postWebhook(api, messagesWebhook(phoneNumberId, { messages: [extra], statuses }))).status).toBe(200);
    for (const { messageId } of sent) await expect.poll(() => sendsFor(messageId).length, { timeout: 20_000 }).toBe(1);
    await expect
      .poll(async () => (await stack.db('message_statuses').where({ wamid: statuses[0]!.id })).length, {
        timeout: 10_000,
      })
      .toBe(1);
    await expect.poll(async () => (await inbound(extra.id as string)).length, { timeout: 10_000 }).toBe(1);
  });

  it('records delivery statuses before it answers 200, starting no workflow for them', async () => {
    const { phoneNumberId } = await connectedNumber();
    const wamid = newWamid();
    const statuses = [
      { id: wamid, status: 'delivered', timestamp: String(Math.floor(Date.now() / 1000)), recipient_id: customer() },
    ];
    expect((await postWebhook(api, messagesWebhook(phoneNumberId, { statuses }))).status).toBe(200);
    // Already in PostgreSQL when Meta gets its 200: nothing waits behind workflows.
    expect((await stack.db('message_statuses').where({ wamid })).map((r) => r.status)).toEqual(['delivered']);
    const started = [];
    for await (const w of stack.client.workflow.list({
      query: `WorkflowType = 'recordStatuses' AND TaskQueue = '${stack.config.temporal.taskQueue}'`,
    }))
      started.push(w);
    expect(started).toEqual([]);
  });

  it('answers 503 to statuses while PostgreSQL is down, so Meta delivers them again', async () => {
    const down = await startStack({
      api: true,
      worker: false,
      env: { DATABASE_URL: `postgres://postgres@127.0.0.1:${await freePort()}/none` },
    });
    try {
      const statuses = [
        { id: newWamid(), status: 'sent', timestamp: String(Math.floor(Date.now() / 1000)), recipient_id: customer() },
      ];
      const res = await postWebhook(down.api!.url, messagesWebhook('1000002', { statuses }));
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ error: { code: 'database_unavailable' } });
    } finally {
      await down.close();
    }
  });

  it('answers non-text messages with their own text and ignores reactions to our replies', async () => {
    const { phoneNumberId } = await connectedNumber();
    const from = customer();
    const state = stack.sandbox!.state;
    const image = state.sendCustomerMessage({
      phoneNumberId,
      from,
      type: 'image',
      image: { id: 'media1', mime_type: 'image/jpeg' },
    });
    await expect.poll(() => sendsFor(image.messageId).length, { timeout: 20_000 }).toBe(1);
    expect(sendsFor(image.messageId)[0]!.textBody).toMatch(/image/i);
    const location = state.sendCustomerMessage({
      phoneNumberId,
      from,
      type: 'location',
      location: { latitude: 52.5, longitude: 13.4 },
    });
    await expect.poll(() => sendsFor(location.messageId).length, { timeout: 20_000 }).toBe(1);
    expect(sendsFor(location.messageId)[0]!.textBody).toMatch(/location/i);

    const ourReply = replies(phoneNumberId, from)[0]!;
    const reaction = state.sendCustomerMessage({
      phoneNumberId,
      from,
      type: 'reaction',
      reaction: { message_id: ourReply.id, emoji: '👍' },
    });
    await expect.poll(async () => (await inbound(reaction.messageId))[0]?.status, { timeout: 20_000 }).toBe('no_reply');
    expect(sendsFor(reaction.messageId)).toHaveLength(0);
  });

  it('records a message for a number with no active integration as ignored, once', async () => {
    const wamid = newWamid();
    const body = messagesWebhook(`999${randomBytes(4).readUInt32BE()}`, {
      messages: [messageItem({ phoneNumberId: 'x', from: '1', wamid })],
    });
    expect((await postWebhook(api, body)).status).toBe(200);
    await expect.poll(async () => (await inbound(wamid))[0]?.status, { timeout: 20_000 }).toBe('ignored');
    expect((await postWebhook(api, body)).status).toBe(200);
    expect(await inbound(wamid)).toHaveLength(1);
    expect(sendsFor(wamid)).toHaveLength(0);
  });

  it('stores but does not answer a message older than the 24-hour window', async () => {
    const { phoneNumberId } = await connectedNumber();
    const wamid = newWamid();
    const old = Math.floor(Date.now() / 1000) - 25 * 3600;
    await postWebhook(
      api,
      messagesWebhook(phoneNumberId, {
        messages: [messageItem({ phoneNumberId, from: customer(), wamid, timestamp: old })],
      }),
    );
    await expect.poll(async () => (await inbound(wamid))[0]?.status, { timeout: 20_000 }).toBe('unanswered');
    expect((await inbound(wamid))[0]!.error).toEqual({ reason: 'outside_24h_window' });
    expect(sendsFor(wamid)).toHaveLength(0);
  });

  it('recovers from Meta 5xx and rate limits on send with exactly one reply', async () => {
    const { phoneNumberId } = await connectedNumber();
    const from = customer();
    const state = stack.sandbox!.state;
    state.addFault({ operation: 'messages.send', status: 500, objectId: phoneNumberId });
    state.addFault({
      operation: 'messages.send',
      status: 400,
      error: { code: 130429, message: 'Rate limit hit' },
      objectId: phoneNumberId,
    });
    const { messageId } = state.sendCustomerMessage({ phoneNumberId, from, type: 'text', text: 'busy?' });
    await expect.poll(() => sendsFor(messageId).length, { timeout: 40_000 }).toBe(1);
    const attempts = state.calls({ operation: 'messages.send' }).filter((c) => c.messageContextId === messageId);
    expect(attempts.filter((c) => c.faulted)).toHaveLength(2);
  });

  it('does not send twice when Meta accepted a send but its answer was lost', async () => {
    const { phoneNumberId } = await connectedNumber();
    const state = stack.sandbox!.state;
    // The send goes out at Meta, then the connection hangs past our timeout.
    state.addFault({ operation: 'messages.send', hangMs: 4_000, effect: 'after', objectId: phoneNumberId });
    const { messageId } = state.sendCustomerMessage({ phoneNumberId, from: customer(), type: 'text', text: 'hello?' });
    await expect.poll(async () => (await inbound(messageId))[0]?.status, { timeout: 40_000 }).toBe('replied');
    expect(sendsFor(messageId)).toHaveLength(1);
    const [row] = await inbound(messageId);
    const outbound = await stack.db('messages').where({ in_reply_to: row!.id }).first();
    expect(outbound!.wamid).toBe(sendsFor(messageId)[0]!.messageId);
  });

  it('does not send twice when Meta answers 500 after sending', async () => {
    const { phoneNumberId } = await connectedNumber();
    const state = stack.sandbox!.state;
    state.addFault({ operation: 'messages.send', status: 500, effect: 'after', objectId: phoneNumberId });
    const { messageId } = state.sendCustomerMessage({
      phoneNumberId,
      from: customer(),
      type: 'text',
      text: 'and now?',
    });
    await expect.poll(async () => (await inbound(messageId))[0]?.status, { timeout: 40_000 }).toBe('replied');
    await quietPeriod(1000);
    expect(sendsFor(messageId)).toHaveLength(1);
  });

  it('flips the integration to needs_reauth when Meta rejects the token on send', async () => {
    const { businessId, phoneNumberId } = await connectedNumber();
    const state = stack.sandbox!.state;
    state.addFault({
      operation: 'messages.send',
      status: 401,
      error: { code: 190, error_subcode: 460, message: 'Error validating access token' },
      objectId: phoneNumberId,
    });
    const { messageId } = state.sendCustomerMessage({ phoneNumberId, from: customer(), type: 'text', text: 'hi' });
    await expect.poll(async () => (await inbound(messageId))[0]?.status, { timeout: 20_000 }).toBe('unanswered');
    const status = await getStatus(api, businessId);
    expect(status.connected).toBe(false);
    expect(status.integration.state).toBe('needs_reauth');
    expect(status.integration.tokenHealth.state).toBe('needs_reauth');
    expect(status.integration.tokenHealth.lastError).toMatch(/190/);
    // Later messages are stored and marked unanswered, not retried.
    const later = state.sendCustomerMessage({ phoneNumberId, from: customer(), type: 'text', text: 'anyone?' });
    await expect.poll(async () => (await inbound(later.messageId))[0]?.status, { timeout: 20_000 }).toBe('unanswered');
    expect(
      state.calls({ operation: 'messages.send' }).filter((c) => c.messageContextId === later.messageId),
    ).toHaveLength(0);
  });

  it('answers one customer in the order they wrote, even when the first send needs retries', async () => {
    const { phoneNumberId } = await connectedNumber();
    const from = customer();
    const state = stack.sandbox!.state;
    state.addFault({
      operation: 'messages.send',
      status: 400,
      error: { code: 131056, message: 'Pair rate limit hit' },
      times: 2,
      objectId: phoneNumberId,
    });
    const now = Math.floor(Date.now() / 1000);
    const first = state.sendCustomerMessage({ phoneNumberId, from, type: 'text', text: 'first', timestamp: now - 2 });
    const second = state.sendCustomerMessage({ phoneNumberId, from, type: 'text', text: 'second', timestamp: now - 1 });
    // Order is commit order (the two webhooks may commit either way round). Each message is answered
    // by exactly one turn: alone, or covered by the reply to the later one.
    const rows = async () =>
      stack.db('messages').whereIn('wamid', [first.messageId, second.messageId]).orderBy('sequence');
    await expect
      .poll(async () => (await rows()).map((r) => r.status).join(','), { timeout: 40_000 })
      .toMatch(/^(replied,replied|covered,replied)$/);
    const ordered = await rows();
    const answered = replies(phoneNumberId, from).map((r) => r.contextMessageId);
    const expected = ordered[0]!.status === 'replied' ? ordered.map((r) => r.wamid) : [ordered[1]!.wamid];
    expect(answered).toEqual(expected);
  });
});
