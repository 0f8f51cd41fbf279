// Sends the business starts, over real HTTP against the sandbox: free-form text inside the
// customer's window and refused outside it, template sends checked against the stored template,
// idempotency keys (single and batch), and Meta's refusals each ending in their own state.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../src/crypto.js';
import { messageWorkflowId, sendMessageWorkflowId, taskQueueName } from '../src/temporal/names.js';
import { connectedIntegration } from './helpers/connected.js';
import { getStatus } from './helpers/meta-flow.js';
import { authHeaders } from './helpers/jwt.js';
import { startStack, type Stack } from './helpers/stack.js';
import { quietPeriod } from './helpers/waits.js';

// Meta's template definition as GET /{waba-id}/message_templates answers it.
const ORDER_COMPONENTS = [
  { type: 'HEADER', format: 'TEXT', text: 'Order {{1}}', example: { header_text: ['1234'] } },
  { type: 'BODY', text: 'Hi {{1}}, your order ships on {{2}}.', example: { body_text: [['Ann', 'Monday']] } },
  { type: 'FOOTER', text: 'Thanks' },
];

/** Polls outside a test body (expect.poll works only inside one). */
async function until(probe: () => unknown, timeoutMs = 20_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !(await probe());) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}

const TERMINAL = new Set(['sent', 'delivered', 'read', 'failed', 'expired']);

describe('sending messages', () => {
  let stack: Stack;
  let api: string;
  let number: { businessId: string; phoneNumberId: string; wabaId: string };
  let customer: string;
  let seq = 0;

  const newPhone = () => `49170${String(Date.now() % 1e6).padStart(6, '0')}${seq++ % 10}`;
  const post = async (path: string, body: unknown, key?: string, businessId = number.businessId) => {
    const res = await fetch(`${api}/api/integrations/whatsapp/${path}`, {
      method: 'POST',
      headers: {
        ...(await authHeaders(businessId)),
        'content-type': 'application/json',
        ...(key ? { 'idempotency-key': key } : {}),
      },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as any };
  };
  const read = async (id: number, businessId = number.businessId) => {
    const res = await fetch(`${api}/api/integrations/whatsapp/messages/${id}`, {
      headers: await authHeaders(businessId),
    });
    return (await res.json()) as any;
  };
  const settle = async (id: number, businessId = number.businessId) => {
    await expect.poll(async () => TERMINAL.has((await read(id, businessId)).state), { timeout: 30_000 }).toBe(true);
    return read(id, businessId);
  };
  const sendsTo = (phoneNumberId: string, to: string) =>
    stack
      .sandbox!.state.calls({ operation: 'messages.send', objectId: phoneNumberId })
      .filter((c) => c.effect === 'applied' && c.to === to);
  /** A customer writes to the number (opening the window) and the bot's reply goes out. */
  const customerWrites = async (phoneNumberId: string, from: string) => {
    stack.sandbox!.state.sendCustomerMessage({ phoneNumberId, from, type: 'text', text: 'hello' });
    await until(() => sendsTo(phoneNumberId, from).length === 1);
  };

  beforeAll(async () => {
    stack = await startStack({ api: true, sandbox: true });
    api = stack.api!.url;
    const connected = await connectedIntegration(stack);
    const status = await getStatus(api, connected.businessId);
    number = { ...connected, wabaId: status.accounts[0].wabaId };
    customer = newPhone();
    await customerWrites(number.phoneNumberId, customer);
    // A template made in WhatsApp Manager (no webhook of its own); its approval's webhook names a
    // template the catalogue lacks, so a sync reads its components from Meta.
    const made = stack.sandbox!.state.catalogue.addDirect(number.wabaId, {
      name,
      language: 'en_US',
      category: 'UTILITY',
      status: 'PENDING',
      qualityScore: 'UNKNOWN',
      parameterFormat: 'POSITIONAL',
      components: ORDER_COMPONENTS,
    });
    stack.sandbox!.state.templates.status(number.wabaId, { templateId: made.id, event: 'APPROVED' });
    await until(async () => {
      const row = await stack.db('message_templates').where({ waba_id: number.wabaId, name }).first();
      return row?.status === 'APPROVED' && row.components !== null;
    });
  }, 60_000);

  const name = `order_update_${randomUUID().slice(0, 6)}`;
  const template = (bodyParameters: string[]) => ({
    name,
    language: 'en_US',
    components: [
      { type: 'header', parameters: [{ type: 'text', text: '1234' }] },
      { type: 'body', parameters: bodyParameters.map((text) => ({ type: 'text', text })) },
    ],
  });
  afterAll(() => stack?.close());

  it('sends text inside the customer window and shows Meta’s statuses', async () => {
    const answer = await post(
      'messages',
      { to: customer, phoneNumberId: number.phoneNumberId, text: 'Your table is ready' },
      randomUUID(),
    );
    expect(answer.status).toBe(202);
    expect(answer.body.state).toBe('queued');
    await expect.poll(async () => (await read(answer.body.id)).state, { timeout: 30_000 }).toBe('read');
    const send = await read(answer.body.id);
    expect(send.statuses.map((s: { status: string }) => s.status)).toEqual(['sent', 'delivered', 'read']);
    const call = sendsTo(number.phoneNumberId, customer).find((c) => c.textBody === 'Your table is ready');
    expect(call?.messageId).toBe(send.messageId);
    const listed = (await (
      await fetch(`${api}/api/integrations/whatsapp/messages`, { headers: await authHeaders(number.businessId) })
    ).json()) as { messages: Array<{ id: number; origin: string; direction: string }> };
    expect(listed.messages.find((m) => m.id === answer.body.id)?.origin).toBe('api');
    expect(listed.messages.filter((m) => m.direction === 'outbound').map((m) => m.origin)).toContain('reply');
  });

  it('runs a business’s send on the outbound queue, so a batch never holds the slots replies need', async () => {
    const key = randomUUID();
    const answer = await post(
      'messages',
      { to: customer, phoneNumberId: number.phoneNumberId, text: 'On its way' },
      key,
    );
    expect(answer.status).toBe(202);
    await settle(answer.body.id);
    const keyHash = sha256Hex(key);
    const send = await stack.client.workflow.getHandle(sendMessageWorkflowId(number.businessId, keyHash)).describe();
    expect(send.taskQueue).toBe(taskQueueName(stack.config.temporal.taskQueue, 'outbound'));
    const reply = await stack.db('messages').where({ direction: 'inbound', customer_wa_id: customer }).first('id');
    const handled = await stack.client.workflow.getHandle(messageWorkflowId(Number(reply!.id))).describe();
    expect(handled.taskQueue).toBe(taskQueueName(stack.config.temporal.taskQueue, 'messages'));
  });

  it('refuses free-form text outside the window without calling Meta', async () => {
    const stranger = newPhone();
    const answer = await post(
      'messages',
      { to: stranger, phoneNumberId: number.phoneNumberId, text: 'Hello out of the blue' },
      randomUUID(),
    );
    expect(answer.status).toBe(202);
    const send = await settle(answer.body.id);
    expect(send.state).toBe('failed');
    expect(send.error.code).toBe('outside_window');
    expect(sendsTo(number.phoneNumberId, stranger)).toHaveLength(0);
  });

  it('sends interactive buttons and media by link in Meta’s shapes', async () => {
    const interactive = {
      type: 'button',
      body: { text: 'Keep your booking?' },
      action: {
        buttons: [
          { type: 'reply', reply: { id: 'keep', title: 'Keep' } },
          { type: 'reply', reply: { id: 'cancel', title: 'Cancel' } },
        ],
      },
    };
    const image = { link: 'https://example.com/menu.jpg', caption: 'Today’s menu' };
    const buttons = await post(
      'messages',
      { to: customer, phoneNumberId: number.phoneNumberId, interactive },
      randomUUID(),
    );
    const picture = await post('messages', { to: customer, phoneNumberId: number.phoneNumberId, image }, randomUUID());
    expect((await settle(buttons.body.id)).state).not.toBe('failed');
    expect((await settle(picture.body.id)).state).not.toBe('failed');
    const conversation = stack.sandbox!.state.conversation(number.phoneNumberId, customer);
    expect(conversation.find((m) => m.type === 'interactive')?.content).toEqual(interactive);
    expect(conversation.find((m) => m.type === 'image')?.content).toEqual(image);
  });

  it('ends a send Meta refuses as invalid (four reply buttons) failed with Meta’s reason', async () => {
    const reply = (id: string) => ({ type: 'reply', reply: { id, title: id } });
    const interactive = {
      type: 'button',
      body: { text: 'Pick one' },
      action: { buttons: ['a', 'b', 'c', 'd'].map(reply) },
    };
    const answer = await post(
      'messages',
      { to: customer, phoneNumberId: number.phoneNumberId, interactive },
      randomUUID(),
    );
    const send = await settle(answer.body.id);
    expect(send.state).toBe('failed');
    expect(send.error).toMatchObject({ code: 'meta_error', metaCode: 100 });
  });

  it('expires a send not made by its expiresAt', async () => {
    const expiresAt = new Date(Date.now() - 1_000).toISOString();
    const answer = await post(
      'messages',
      { to: customer, phoneNumberId: number.phoneNumberId, text: 'too late', expiresAt },
      randomUUID(),
    );
    expect((await settle(answer.body.id)).state).toBe('expired');
    expect(sendsTo(number.phoneNumberId, customer).filter((c) => c.textBody === 'too late')).toHaveLength(0);
  });

  it('sends to a BSUID through the phone number when it is known', async () => {
    const known = await stack.db('customers').where({ business_id: number.businessId, phone: customer }).first();
    expect(known?.bsuid).toBeTruthy();
    const answer = await post(
      'messages',
      { to: known!.bsuid, phoneNumberId: number.phoneNumberId, text: 'by user id' },
      randomUUID(),
    );
    expect((await settle(answer.body.id)).state).not.toBe('failed');
    const call = sendsTo(number.phoneNumberId, customer).find((c) => c.textBody === 'by user id');
    expect(call).toBeTruthy();
  });

  describe('templates', () => {
    it('sends an approved template to anyone, any time', async () => {
      const stranger = newPhone();
      const answer = await post(
        'messages',
        { to: stranger, phoneNumberId: number.phoneNumberId, template: template(['Ann', 'Monday']) },
        randomUUID(),
      );
      expect(answer.status).toBe(202);
      await expect.poll(async () => (await read(answer.body.id)).state, { timeout: 30_000 }).toBe('read');
      expect(sendsTo(number.phoneNumberId, stranger)).toHaveLength(1);
      expect((await read(answer.body.id)).origin).toBe('template');
    });

    it('holds a template send while the portfolio’s messaging limit is full, until it expires', async () => {
      const limited = await connectedIntegration(stack);
      const wabaId = (await getStatus(api, limited.businessId)).accounts[0].wabaId as string;
      await stack.db('message_templates').insert({
        waba_id: wabaId,
        message_template_id: String(Date.now()),
        name,
        language: 'en_US',
        status: 'APPROVED',
        components: JSON.stringify(ORDER_COMPONENTS),
        parameter_format: 'POSITIONAL',
      } as never);
      // The portfolio may reach 250 customers a day outside the window: all taken.
      await stack
        .db('whatsapp_phone_numbers')
        .where({ phone_number_id: limited.phoneNumberId })
        .update({ business_messaging_limit: 'TIER_250' });
      const integration = await stack
        .db('whatsapp_phone_numbers')
        .where({ phone_number_id: limited.phoneNumberId })
        .first('integration_id');
      await stack.db('messaging_limit_recipients').insert(
        Array.from({ length: 250 }, (_, i) => ({
          portfolio_key: `integration:${integration!.integration_id}`,
          recipient_key: `taken-${i}`,
          phone_number_id: limited.phoneNumberId,
          claimed_at: new Date(),
        })) as never,
      );
      const stranger = newPhone();
      const expiresAt = new Date(Date.now() + 4_000).toISOString();
      const answer = await post(
        'messages',
        { to: stranger, phoneNumberId: limited.phoneNumberId, template: template(['Ann', 'Monday']), expiresAt },
        randomUUID(),
        limited.businessId,
      );
      await quietPeriod(2_000);
      const held = await read(answer.body.id, limited.businessId);
      expect(held, JSON.stringify(held)).toMatchObject({ state: 'queued' });
      expect((await settle(answer.body.id, limited.businessId)).state).toBe('expired');
      expect(sendsTo(limited.phoneNumberId, stranger)).toHaveLength(0);
    }, 60_000);

    it('refuses a wrong parameter count without calling Meta', async () => {
      const stranger = newPhone();
      const answer = await post(
        'messages',
        { to: stranger, phoneNumberId: number.phoneNumberId, template: template(['Ann']) },
        randomUUID(),
      );
      const send = await settle(answer.body.id);
      expect(send.error.code).toBe('template_parameters_mismatch');
      expect(sendsTo(number.phoneNumberId, stranger)).toHaveLength(0);
    });

    it('ends a send Meta does not know the template of as template_not_found (132001)', async () => {
      // Our catalogue says approved; Meta has no such template (deleted there since the last sync).
      const gone = `gone_${randomUUID().slice(0, 6)}`;
      await stack.db('message_templates').insert({
        waba_id: number.wabaId,
        message_template_id: String(Date.now()),
        name: gone,
        language: 'en_US',
        status: 'APPROVED',
        components: JSON.stringify([{ type: 'BODY', text: 'Hello' }]),
        parameter_format: 'POSITIONAL',
      } as never);
      const answer = await post(
        'messages',
        { to: customer, phoneNumberId: number.phoneNumberId, template: { name: gone, language: 'en_US' } },
        randomUUID(),
      );
      expect((await settle(answer.body.id)).error).toMatchObject({ code: 'template_not_found', metaCode: 132001 });
    });

    it('refuses a template it does not know', async () => {
      const answer = await post(
        'messages',
        {
          to: customer,
          phoneNumberId: number.phoneNumberId,
          template: { name: 'no_such_template', language: 'en_US' },
        },
        randomUUID(),
      );
      expect((await settle(answer.body.id)).error.code).toBe('template_not_found');
    });
  });

  describe('idempotency', () => {
    it('asks which number to send from when the business has several', async () => {
      const answer = await post('messages', { to: customer, text: 'which number?' }, randomUUID());
      expect(answer.status).toBe(400);
      expect(answer.body.error.code).toBe('phone_number_required');
    });

    it('requires a key', async () => {
      const answer = await post('messages', { to: customer, phoneNumberId: number.phoneNumberId, text: 'no key' });
      expect(answer.status).toBe(400);
      expect(answer.body.error.code).toBe('idempotency_key_required');
    });

    it('answers the same key and body with the first send, and refuses the key with another body', async () => {
      const key = randomUUID();
      const text = `once ${key}`;
      const first = await post('messages', { to: customer, phoneNumberId: number.phoneNumberId, text }, key);
      const again = await post('messages', { to: customer, phoneNumberId: number.phoneNumberId, text }, key);
      expect(again.status).toBe(202);
      expect(again.body.id).toBe(first.body.id);
      const other = await post(
        'messages',
        { to: customer, phoneNumberId: number.phoneNumberId, text: 'something else' },
        key,
      );
      expect(other.status).toBe(409);
      expect(other.body.error.code).toBe('idempotency_key_reused');
      await settle(first.body.id);
      await quietPeriod(500);
      expect(sendsTo(number.phoneNumberId, customer).filter((c) => c.textBody === text)).toHaveLength(1);
    });

    it('sends a batch of 50 posted twice 50 times', async () => {
      const run = randomUUID().slice(0, 8);
      // Fifty customers (one customer gets one message every 6 seconds: Meta's pair rate).
      const recipients = Array.from(
        { length: 50 },
        (_, i) => `4917${String(Date.now() % 1e5).padStart(5, '0')}${String(i).padStart(3, '0')}`,
      );
      const messages = recipients.map((to, i) => ({
        idempotencyKey: `${run}-${i}`,
        to,
        phoneNumberId: number.phoneNumberId,
        template: template([`batch ${run}`, String(i)]),
      }));
      const first = await post('messages/batch', { messages });
      const second = await post('messages/batch', { messages });
      expect(first.status).toBe(202);
      expect(first.body.results).toHaveLength(50);
      expect(second.body.results.map((r: { id: number }) => r.id)).toEqual(
        first.body.results.map((r: { id: number }) => r.id),
      );
      const batchSends = () =>
        stack
          .sandbox!.state.calls({ operation: 'messages.send', objectId: number.phoneNumberId })
          .filter((c) => c.effect === 'applied' && recipients.includes(c.to ?? ''));
      await expect.poll(() => batchSends().length, { timeout: 30_000 }).toBe(50);
      await quietPeriod(1_000);
      expect(new Set(batchSends().map((c) => c.to)).size).toBe(50);
      expect(batchSends()).toHaveLength(50);
    }, 60_000);
  });

  describe('Meta refusing a send', () => {
    let other: { businessId: string; phoneNumberId: string };
    let reader: string;
    beforeAll(async () => {
      other = await connectedIntegration(stack);
      reader = newPhone();
      await customerWrites(other.phoneNumberId, reader);
    }, 60_000);

    it.each([
      [131049, 'not_delivered_ecosystem_limit'],
      [130472, 'experiment_number'],
      [131026, 'undeliverable'],
    ])('ends a send Meta reports failed with %i as %s', async (code, state) => {
      stack.sandbox!.state.setStatusMode(other.phoneNumberId, {
        fail: { code, title: 'refused', message: 'refused', details: 'refused by Meta' },
      });
      try {
        const answer = await post(
          'messages',
          { to: reader, phoneNumberId: other.phoneNumberId, text: `hi ${code}` },
          randomUUID(),
          other.businessId,
        );
        const send = await settle(answer.body.id, other.businessId);
        await expect
          .poll(async () => (await read(answer.body.id, other.businessId)).state, { timeout: 20_000 })
          .toBe('failed');
        const final = await read(answer.body.id, other.businessId);
        expect(final.error).toMatchObject({ code: state, metaCode: code });
        expect(send.messageId).toMatch(/^wamid\./);
      } finally {
        stack.sandbox!.state.setStatusMode(other.phoneNumberId, { fail: null });
      }
    });

    it('sends once when Meta took the send but its answer was lost (the status settles it)', async () => {
      stack.sandbox!.state.addFault({
        operation: 'messages.send',
        objectId: other.phoneNumberId,
        status: 500,
        effect: 'after',
      });
      const text = `lost answer ${randomUUID()}`;
      const answer = await post(
        'messages',
        { to: reader, phoneNumberId: other.phoneNumberId, text },
        randomUUID(),
        other.businessId,
      );
      await expect
        .poll(async () => (await read(answer.body.id, other.businessId)).state, { timeout: 30_000 })
        .toBe('read');
      await quietPeriod(1_000);
      expect(sendsTo(other.phoneNumberId, reader).filter((c) => c.textBody === text)).toHaveLength(1);
    }, 45_000);

    it('ends a send Meta refuses in its answer with the refusal’s state, not retried', async () => {
      const since = stack.sandbox!.state.calls().at(-1)?.seq ?? 0;
      stack.sandbox!.state.addFault({
        operation: 'messages.send',
        objectId: other.phoneNumberId,
        status: 400,
        error: { code: 131026, message: '(#131026) Message undeliverable' },
      });
      const answer = await post(
        'messages',
        { to: reader, phoneNumberId: other.phoneNumberId, text: 'refused now' },
        randomUUID(),
        other.businessId,
      );
      const send = await settle(answer.body.id, other.businessId);
      expect(send.state).toBe('failed');
      expect(send.error).toMatchObject({ code: 'undeliverable', metaCode: 131026 });
      expect(
        stack.sandbox!.state.calls({ since, operation: 'messages.send', objectId: other.phoneNumberId }),
      ).toHaveLength(1);
    });
  });

  it('keeps one business out of another’s sends', async () => {
    const answer = await post(
      'messages',
      { to: customer, phoneNumberId: number.phoneNumberId, text: 'private' },
      randomUUID(),
    );
    const res = await fetch(`${api}/api/integrations/whatsapp/messages/${answer.body.id}`, {
      headers: await authHeaders(`intruder-${randomUUID().slice(0, 6)}`),
    });
    expect(res.status).toBe(404);
  });
});
