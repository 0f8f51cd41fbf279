// Tenant isolation, table-driven over every authenticated route: business B can never read or
// change business A's integration, messages, settings or schedule. And an OAuth state completed in
// another browser than the one that asked for it attaches nothing to anyone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recipientKey } from '../src/store/pacer.js';
import { erasureWorkflowId, tokenScheduleId } from '../src/temporal/names.js';
import { connectedIntegration } from './helpers/connected.js';
import { answerDialog, followCallback, getStatus, startConnect } from './helpers/meta-flow.js';
import { authHeaders, tokenFor } from './helpers/jwt.js';
import { newBusinessId } from './helpers/factories.js';
import { startStack, type Stack } from './helpers/stack.js';

interface Route {
  method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  path: string;
  body?: unknown;
}

const ROUTES: Route[] = [
  { method: 'GET', path: 'connect' },
  { method: 'GET', path: 'status' },
  { method: 'GET', path: 'settings' },
  { method: 'PUT', path: 'settings', body: { autoReplyText: 'hijacked' } },
  { method: 'GET', path: 'messages' },
  { method: 'POST', path: 'embedded-signup', body: { code: 'not-a-real-code' } },
  {
    method: 'POST',
    path: 'embedded-signup/events',
    body: { type: 'WA_EMBEDDED_SIGNUP', event: 'CANCEL', data: { current_step: 'X' } },
  },
  // {phoneNumberId} is the victim's number.
  { method: 'POST', path: 'numbers/{phoneNumberId}/registration' },
  { method: 'PUT', path: 'numbers/{phoneNumberId}/pin', body: { pin: '123456' } },
  { method: 'POST', path: 'numbers/{phoneNumberId}/pin/generate' },
  // {wabaId} is the victim's account.
  { method: 'GET', path: 'templates' },
  { method: 'GET', path: 'templates?wabaId={wabaId}&name=hello_world' },
  {
    method: 'POST',
    path: 'templates',
    body: {
      wabaId: '{wabaId}',
      name: 'hijacked',
      language: 'en_US',
      category: 'UTILITY',
      components: [{ type: 'BODY', text: 'hijacked' }],
    },
  },
  { method: 'DELETE', path: 'templates/hello_world?wabaId={wabaId}' },
  { method: 'DELETE', path: 'templates/hello_world' },
  // Sends: from the victim's number, and reading the victim's send ({sendId}).
  {
    method: 'POST',
    path: 'messages',
    body: { to: '4400011122', phoneNumberId: '{phoneNumberId}', text: 'hijacked' },
  },
  {
    method: 'POST',
    path: 'messages/batch',
    body: {
      messages: [{ idempotencyKey: 'k1', to: '4400011122', phoneNumberId: '{phoneNumberId}', text: 'hijacked' }],
    },
  },
  { method: 'GET', path: 'messages/{sendId}' },
  // The victim's stored media ({mediaId}).
  { method: 'GET', path: 'media/{mediaId}' },
  // Erasures: of the victim's customer's phone, of "everything", and reading the victim's erasure ({erasureId}).
  { method: 'POST', path: 'erasures', body: { phone: '4400011122' } },
  { method: 'POST', path: 'erasures', body: { scope: 'business' } },
  { method: 'GET', path: 'erasures/{erasureId}' },
  // {conversationId} is the victim's conversation; the attacker's token has the agent role.
  { method: 'GET', path: 'conversations' },
  { method: 'GET', path: 'conversations?mode=bot&unanswered=false' },
  { method: 'GET', path: 'conversations/{conversationId}' },
  { method: 'POST', path: 'conversations/{conversationId}/handoff', body: { note: 'hijacked' } },
  { method: 'POST', path: 'conversations/{conversationId}/release' },
  { method: 'DELETE', path: 'disconnect' },
];

describe('tenant isolation', () => {
  let stack: Stack;
  let api: string;
  let victim: {
    businessId: string;
    integrationId: string;
    wabaId: string;
    phoneNumberId: string;
    text: string;
    sendId: number;
    mediaId: number;
    erasureId: string;
    conversationId: number;
  };

  beforeAll(async () => {
    stack = await startStack({ api: true, sandbox: true, env: { CALLBACK_WAIT_MS: '3000' } });
    api = stack.api!.url;
    const { businessId } = await connectedIntegration(stack, { businessId: newBusinessId('victim') });
    const status = await getStatus(api, businessId);
    const phoneNumberId = status.accounts[0].phoneNumbers[0].phoneNumberId as string;
    const text = `secret order ${Date.now()}`;
    const { messageId } = stack.sandbox!.state.sendCustomerMessage({
      phoneNumberId,
      from: '4400011122',
      type: 'text',
      text,
    });
    for (
      let i = 0;
      i < 200 && (await stack.db('messages').where({ wamid: messageId }).first())?.status !== 'replied';
      i++
    )
      await new Promise((r) => setTimeout(r, 100));
    const sent = await fetch(`${api}/api/integrations/whatsapp/messages`, {
      method: 'POST',
      headers: {
        ...(await authHeaders(businessId)),
        'content-type': 'application/json',
        'idempotency-key': 'victim-1',
      },
      body: JSON.stringify({ to: '4400011122', phoneNumberId, text: `${text} (sent)` }),
    });
    expect(sent.status).toBe(202);
    const { id: sendId } = (await sent.json()) as { id: number };
    // Sent before the routes run, so its call to Meta is not counted against them.
    for (let i = 0; i < 200 && !(await stack.db('messages').where({ id: sendId }).first())?.wamid; i++)
      await new Promise((r) => setTimeout(r, 100));
    // An erasure of the victim's own, of a customer it never had.
    const erasure = await fetch(`${api}/api/integrations/whatsapp/erasures`, {
      method: 'POST',
      headers: { ...(await authHeaders(businessId)), 'content-type': 'application/json' },
      body: JSON.stringify({ phone: '4400099988' }),
    });
    expect(erasure.status).toBe(202);
    const { id: erasureId } = (await erasure.json()) as { id: string };
    // A stored file of the victim's customer (its bytes are never read: the row is enough to be refused).
    const inbound = (await stack.db('messages').where({ wamid: messageId }).first())!;
    const [media] = await stack
      .db('media')
      .insert({
        message_id: inbound.id,
        business_id: businessId,
        integration_id: status.integration.id,
        kind: 'image',
        meta_media_id: '1000000000000001',
        mime_type: 'image/jpeg',
        size: 4,
        state: 'stored',
        storage_key: 'media/victim-file',
      } as never)
      .returning('id');
    const conversationId = inbound.conversation_id!;
    victim = {
      businessId,
      integrationId: status.integration.id,
      wabaId: status.accounts[0].wabaId,
      phoneNumberId,
      text,
      sendId,
      mediaId: Number((media as { id: number }).id),
      erasureId,
      conversationId,
    };
  });
  afterAll(() => stack?.close());

  it.each(ROUTES)('$method /$path as another business never touches the victim', async (route) => {
    const attacker = newBusinessId('attacker');
    const since = stack.sandbox!.state.calls().at(-1)?.seq ?? 0;
    const path = route.path
      .replace('{phoneNumberId}', victim.phoneNumberId)
      .replace('{wabaId}', victim.wabaId)
      .replace('{sendId}', String(victim.sendId))
      .replace('{mediaId}', String(victim.mediaId))
      .replace('{erasureId}', victim.erasureId)
      .replace('{conversationId}', String(victim.conversationId));
    const body =
      route.body === undefined
        ? undefined
        : JSON.stringify(route.body)
            .replaceAll('{phoneNumberId}', victim.phoneNumberId)
            .replace('{wabaId}', victim.wabaId);
    const res = await fetch(`${api}/api/integrations/whatsapp/${path}`, {
      method: route.method,
      headers: {
        authorization: `Bearer ${await tokenFor(attacker, { claims: { role: ['agent', 'admin'], sub: 'intruder' } })}`,
        'content-type': 'application/json',
        accept: 'application/json',
      },
      ...(body === undefined ? {} : { body }),
      redirect: 'manual',
    });
    expect(res.status).toBeLessThan(500);
    const text = await res.text();
    for (const id of [victim.integrationId, victim.wabaId, victim.phoneNumberId, victim.text, victim.erasureId])
      expect(text).not.toContain(id);
    const number = await stack.db('whatsapp_phone_numbers').where({ phone_number_id: victim.phoneNumberId }).first();
    expect(number!.registration_pin).toBeNull();
    expect(number!.registration_state).toBe('registered');
    const victimCalls = stack.sandbox!.state.calls({ since, objectId: victim.phoneNumberId });
    expect(victimCalls.filter((c) => c.operation.startsWith('phone.') || c.operation === 'messages.send')).toHaveLength(
      0,
    );
    const templateCalls = stack.sandbox!.state.calls({ since, objectId: victim.wabaId });
    expect(
      templateCalls.filter((c) => c.operation === 'templates.create' || c.operation === 'templates.delete'),
    ).toEqual([]);
    expect(stack.sandbox!.state.catalogue.templatesOf(victim.wabaId).map((t) => t.name)).toContain('hello_world');

    const conversation = await stack.db('conversations').where({ id: victim.conversationId }).first();
    expect(conversation).toMatchObject({ mode: 'bot', handoff_agent_id: null, handoff_note: null });
    expect(await stack.db('conversation_events').where({ conversation_id: victim.conversationId })).toEqual([]);

    const status = await getStatus(api, victim.businessId);
    expect(status.connected).toBe(true);
    expect(status.integration.id).toBe(victim.integrationId);
    expect(status.lastAbandonedSignup).toBeNull();
    const settings = (await (
      await fetch(`${api}/api/integrations/whatsapp/settings`, { headers: await authHeaders(victim.businessId) })
    ).json()) as { autoReplyText: string };
    expect(settings.autoReplyText).toBe(stack.config.reply.defaultText);
    await expect(
      stack.client.schedule.getHandle(tokenScheduleId(victim.integrationId)).describe(),
    ).resolves.toBeTruthy();
    const messages = (await (
      await fetch(`${api}/api/integrations/whatsapp/messages`, { headers: await authHeaders(victim.businessId) })
    ).json()) as { messages: unknown[] };
    // The customer's message, the bot's reply and the victim's own send.
    expect(messages.messages.length).toBe(3);
    // An erasure the attacker asked for runs to its end and leaves the victim's customer and rows.
    for (const erasure of await stack.db('erasures').where({ business_id: attacker }))
      await stack.client.workflow.getHandle(erasureWorkflowId(erasure.id)).result();
    expect(await stack.db('customers').where({ business_id: victim.businessId, phone: '4400011122' })).toHaveLength(1);
    expect(await stack.db('channel_integrations').where({ id: victim.integrationId, is_active: true })).toHaveLength(1);
    expect(
      await stack
        .db('send_pacing')
        .where({ phone_number_id: victim.phoneNumberId, recipient: recipientKey('4400011122') }),
    ).toHaveLength(1);
  });

  it('never links another browser’s Meta account to the business that minted the state', async () => {
    const attacker = newBusinessId('attacker');
    const since = stack.sandbox!.state.calls().at(-1)?.seq ?? 0;
    // The attacker mints a state and lures the victim's browser through Meta's dialog with it.
    const callbackUrl = await answerDialog(await startConnect(api, attacker), { decision: 'approve' });
    const landing = await followCallback(callbackUrl, { cookie: '' });
    expect(landing.searchParams.get('error')).toBe('session_mismatch');
    expect(stack.sandbox!.state.calls({ since, operation: 'oauth.code_exchange' })).toHaveLength(0);
    expect((await getStatus(api, attacker)).integration).toBeNull();
    expect(await stack.db('channel_integrations').where({ business_id: attacker })).toHaveLength(0);
  });
});
