// Tenant isolation, table-driven over every authenticated route: business B can never read or
// change business A's integration, messages, settings or schedule. And an OAuth state attaches the
// connect to the business that minted it, whoever's browser completes it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokenScheduleId } from '../src/temporal/names.js';
import { answerDialog, connectThroughMeta, followCallback, getStatus, startConnect } from './helpers/meta-flow.js';
import { authHeaders } from './helpers/jwt.js';
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
  { method: 'POST', path: 'embedded-signup/events', body: { type: 'WA_EMBEDDED_SIGNUP', event: 'CANCEL', data: { current_step: 'X' } } },
  { method: 'DELETE', path: 'disconnect' },
];

describe('tenant isolation', () => {
  let stack: Stack;
  let api: string;
  let victim: { businessId: string; integrationId: string; wabaId: string; phoneNumberId: string; text: string };

  beforeAll(async () => {
    stack = await startStack({ api: true, sandbox: true, env: { CALLBACK_WAIT_MS: '3000' } });
    api = stack.api!.url;
    const businessId = newBusinessId('victim');
    await connectThroughMeta(api, businessId);
    const status = await getStatus(api, businessId);
    const phoneNumberId = status.accounts[0].phoneNumbers[0].phoneNumberId as string;
    const text = `secret order ${Date.now()}`;
    const { messageId } = stack.sandbox!.state.sendCustomerMessage({ phoneNumberId, from: '4400011122', type: 'text', text });
    for (let i = 0; i < 200 && (await stack.db('messages').where({ wamid: messageId }).first())?.status !== 'replied'; i++) await new Promise((r) => setTimeout(r, 100));
    victim = { businessId, integrationId: status.integration.id, wabaId: status.accounts[0].wabaId, phoneNumberId, text };
  });
  afterAll(() => stack?.close());

  it.each(ROUTES)('$method /$path as another business never touches the victim', async (route) => {
    const attacker = newBusinessId('attacker');
    const res = await fetch(`${api}/api/integrations/whatsapp/${route.path}`, {
      method: route.method,
      headers: { ...(await authHeaders(attacker)), 'content-type': 'application/json', accept: 'application/json' },
      ...(route.body === undefined ? {} : { body: JSON.stringify(route.body) }),
      redirect: 'manual',
    });
    expect(res.status).toBeLessThan(500);
    const text = await res.text();
    for (const id of [victim.integrationId, victim.wabaId, victim.phoneNumberId, victim.text]) expect(text).not.toContain(id);

    const status = await getStatus(api, victim.businessId);
    expect(status.connected).toBe(true);
    expect(status.integration.id).toBe(victim.integrationId);
    expect(status.lastAbandonedSignup).toBeNull();
    const settings = (await (await fetch(`${api}/api/integrations/whatsapp/settings`, { headers: await authHeaders(victim.businessId) })).json()) as { autoReplyText: string };
    expect(settings.autoReplyText).toBe(stack.config.reply.defaultText);
    await expect(stack.client.schedule.getHandle(tokenScheduleId(victim.integrationId)).describe()).resolves.toBeTruthy();
    const messages = (await (await fetch(`${api}/api/integrations/whatsapp/messages`, { headers: await authHeaders(victim.businessId) })).json()) as { messages: unknown[] };
    expect(messages.messages.length).toBe(2);
  });

  it('attaches a connect to the business that minted the state, whoever completes it', async () => {
    const minter = newBusinessId('minter');
    const other = newBusinessId('other');
    const callbackUrl = await answerDialog(await startConnect(api, minter), { decision: 'approve' });
    // The callback carries no session: another business's browser completing it changes nothing for that business.
    const landing = await followCallback(callbackUrl);
    expect(landing.searchParams.get('success')).toBe('true');
    expect((await getStatus(api, minter)).connected).toBe(true);
    expect((await getStatus(api, other)).integration).toBeNull();
    // Replaying the state later cannot start a second connect for anyone.
    expect((await followCallback(callbackUrl)).searchParams.get('success')).toBe('true');
    expect(await stack.db('channel_integrations').where({ business_id: minter })).toHaveLength(1);
    expect(await stack.db('channel_integrations').where({ business_id: other })).toHaveLength(0);
  });
});
