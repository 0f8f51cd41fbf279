import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectedIntegration } from './helpers/connected.js';
import { authHeaders } from './helpers/jwt.js';
import { newBusinessId } from './helpers/factories.js';
import { startStack, type Stack } from './helpers/stack.js';

describe('reply settings and the message list', () => {
  let stack: Stack;
  let api: string;
  beforeAll(async () => {
    stack = await startStack({ api: true, sandbox: true });
    api = stack.api!.url;
  });
  afterAll(() => stack?.close());

  const call = async (businessId: string, method: string, path: string, body?: unknown) =>
    fetch(`${api}/api/integrations/whatsapp/${path}`, {
      method,
      headers: { ...(await authHeaders(businessId)), 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  it('answers not_connected before a connect', async () => {
    const res = await call(newBusinessId(), 'GET', 'settings');
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { code: 'not_connected', message: 'Connect WhatsApp first.' } });
  });

  it('changes the auto-reply text, which the next reply uses, and resets it with null', async () => {
    const { businessId, phoneNumberId } = await connectedIntegration(stack);
    const put = await call(businessId, 'PUT', 'settings', { autoReplyText: '  We answer within the hour.  ' });
    expect(put.status).toBe(200);
    expect(await put.json()).toEqual({
      autoReplyText: 'We answer within the hour.',
      autoReplyTextIsDefault: false,
      welcomeText: null,
      responder: 'rules',
      httpResponderAvailable: false,
      botPauseAfterOwnerReplyMs: 30 * 60 * 1000,
      brainVersion: 1,
      brainHistoryMessages: 10,
    });

    const { messageId } = stack.sandbox!.state.sendCustomerMessage({
      phoneNumberId,
      from: '4411122233',
      type: 'text',
      text: 'hello',
    });
    await expect
      .poll(
        () =>
          stack.sandbox!.state.calls({ operation: 'messages.send' }).find((c) => c.messageContextId === messageId)
            ?.textBody,
        { timeout: 20_000 },
      )
      .toBe('We answer within the hour.');

    const reset = await call(businessId, 'PUT', 'settings', { autoReplyText: null });
    expect(((await reset.json()) as { autoReplyTextIsDefault: boolean }).autoReplyTextIsDefault).toBe(true);
  });

  it('refuses invalid settings and an HTTP responder that is not configured', async () => {
    const { businessId } = await connectedIntegration(stack);
    for (const body of [
      { autoReplyText: '' },
      { autoReplyText: 'x'.repeat(4097) },
      { responder: 'ai' },
      { unknown: 1 },
    ]) {
      const res = await call(businessId, 'PUT', 'settings', body);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_request');
    }
    const res = await call(businessId, 'PUT', 'settings', { responder: 'http' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('responder_unavailable');
  });

  it('lists the business’s conversation newest first, page by page', async () => {
    const { businessId, phoneNumberId } = await connectedIntegration(stack);
    const from = '4455566677';
    const { messageId } = stack.sandbox!.state.sendCustomerMessage({
      phoneNumberId,
      from,
      name: 'Bo',
      type: 'text',
      text: 'list me',
    });
    await expect
      .poll(async () => (await stack.db('messages').where({ wamid: messageId }).first())?.status, { timeout: 20_000 })
      .toBe('replied');

    const first = (await (await call(businessId, 'GET', 'messages?limit=1')).json()) as {
      messages: Array<Record<string, unknown>>;
      nextBefore: number;
    };
    expect(first.messages).toHaveLength(1);
    expect(first.messages[0]).toMatchObject({
      direction: 'outbound',
      customer: from,
      type: 'text',
      text: stack.config.reply.defaultText,
    });
    const second = (await (await call(businessId, 'GET', `messages?limit=1&before=${first.nextBefore}`)).json()) as {
      messages: Array<Record<string, unknown>>;
      nextBefore: number | null;
    };
    expect(second.messages[0]).toMatchObject({
      direction: 'inbound',
      customer: from,
      customerName: 'Bo',
      text: 'list me',
      status: 'replied',
    });
    expect(second.nextBefore).toBeNull();
    expect(JSON.stringify([first, second])).not.toContain(phoneNumberId);

    const other = (await (await call(newBusinessId(), 'GET', 'messages')).json()) as { messages: unknown[] };
    expect(other.messages).toEqual([]);
  });
});
