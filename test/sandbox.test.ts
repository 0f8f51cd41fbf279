import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { verifySignature } from '../src/meta/signature.js';
import {
  popupResult,
  startTestSandbox,
  startWebhookReceiver,
  submitDialog,
  waitFor,
  type TestSandbox,
  type WebhookReceiver,
} from './helpers/sandbox.js';
import { quietPeriod } from './helpers/waits.js';

const REDIRECT = 'http://127.0.0.1:9/api/integrations/whatsapp/callback';
const SCOPE = 'business_management,whatsapp_business_management,whatsapp_business_messaging';

type Json = Record<string, any>;

async function getJson(url: string, token?: string): Promise<{ status: number; body: Json }> {
  const res = await fetch(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  return { status: res.status, body: (await res.json()) as Json };
}

async function postJson(
  url: string,
  body: unknown,
  token?: string,
  method = 'POST',
): Promise<{ status: number; body: Json }> {
  const res = await fetch(url, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Json };
}

describe('Meta sandbox', () => {
  let sandbox: TestSandbox;
  let receiver: WebhookReceiver;
  const secrets: string[] = [];

  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    sandbox = await startTestSandbox({ webhookUrl: receiver.url });
    secrets.push(sandbox.appSecret);
  });
  afterEach(() => {
    sandbox.state.clearFaults();
    receiver.respond = () => 200;
  });
  afterAll(async () => {
    await sandbox?.close();
    await receiver?.close();
  });

  function exchange(code: string, redirectUri?: string) {
    const query = new URLSearchParams({ client_id: sandbox.appId, client_secret: sandbox.appSecret, code });
    if (redirectUri !== undefined) query.set('redirect_uri', redirectUri);
    return getJson(`${sandbox.graph('oauth/access_token')}?${query}`);
  }

  async function approvedCode(params: { account?: string; scope?: string; state?: string } = {}): Promise<string> {
    const res = await submitDialog(
      sandbox,
      { redirectUri: REDIRECT, state: params.state ?? 'st-1', scope: params.scope ?? SCOPE },
      { decision: 'approve', ...(params.account ? { account: params.account } : {}) },
    );
    expect(res.status).toBe(302);
    const code = new URL(res.headers.get('location')!).searchParams.get('code')!;
    secrets.push(code);
    return code;
  }

  async function tokenFor(account?: string): Promise<string> {
    const { body } = await exchange(await approvedCode(account ? { account } : {}), REDIRECT);
    secrets.push(body.access_token);
    return body.access_token as string;
  }

  it('renders a labelled consent page and rejects an unknown client_id', async () => {
    const ok = await fetch(
      `${sandbox.graph('dialog/oauth')}?client_id=${sandbox.appId}&redirect_uri=${encodeURIComponent(REDIRECT)}&state=s&response_type=code&scope=${SCOPE}`,
    );
    const html = await ok.text();
    expect(ok.status).toBe(200);
    expect(html).toContain('Sandbox Meta: Sandbox App wants to connect your WhatsApp Business account');
    expect(html).toMatch(/<label for="account">/);
    expect(html).toContain('Create a new sandbox business (1 WhatsApp account, 2 numbers)');
    expect(html).toMatch(/<button type="submit" name="decision" value="approve">Continue<\/button>/);
    expect(html).toMatch(/<button type="submit" name="decision" value="deny">Cancel<\/button>/);
    const bad = await fetch(
      `${sandbox.graph('dialog/oauth')}?client_id=1&redirect_uri=${encodeURIComponent(REDIRECT)}&response_type=code`,
    );
    expect(bad.status).toBe(400);
  });

  it('walks the whole login: code, exchange, long-lived token, debug_token, businesses, WABAs, paged numbers', async () => {
    const res = await submitDialog(
      sandbox,
      { redirectUri: REDIRECT, state: 'state-42', scope: SCOPE },
      { decision: 'approve' },
    );
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get('location')!);
    expect(`${location.origin}${location.pathname}`).toBe(REDIRECT);
    expect(location.searchParams.get('state')).toBe('state-42');
    const code = location.searchParams.get('code')!;
    secrets.push(code);

    const short = await exchange(code, REDIRECT);
    expect(short.status).toBe(200);
    expect(short.body).toEqual({
      access_token: expect.stringMatching(/^EAAG[A-Za-z0-9]{100,}$/),
      token_type: 'bearer',
      expires_in: 5400,
    });
    secrets.push(short.body.access_token);

    const long = await getJson(
      `${sandbox.graph('oauth/access_token')}?${new URLSearchParams({ grant_type: 'fb_exchange_token', client_id: sandbox.appId, client_secret: sandbox.appSecret, fb_exchange_token: short.body.access_token })}`,
    );
    expect(long.status).toBe(200);
    expect(long.body.expires_in).toBe(5_184_000);
    const token = long.body.access_token as string;
    secrets.push(token);

    const debug = await getJson(
      `${sandbox.graph('debug_token')}?input_token=${token}`,
      `${sandbox.appId}|${sandbox.appSecret}`,
    );
    expect(debug.status).toBe(200);
    const data = debug.body.data;
    expect(data).toMatchObject({
      app_id: sandbox.appId,
      type: 'USER',
      application: 'Sandbox App',
      is_valid: true,
      user_id: expect.stringMatching(/^\d+$/),
    });
    expect(data.expires_at).toBeGreaterThan(Date.now() / 1000 + 5_000_000);
    const wabaIds = data.granular_scopes.find((s: Json) => s.scope === 'whatsapp_business_management')
      .target_ids as string[];
    expect(wabaIds).toHaveLength(1);
    expect(data.granular_scopes).toEqual([
      { scope: 'whatsapp_business_management', target_ids: wabaIds },
      { scope: 'whatsapp_business_messaging', target_ids: wabaIds },
      { scope: 'business_management', target_ids: [expect.stringMatching(/^\d{16}$/)] },
    ]);

    const businesses = await getJson(sandbox.graph('me/businesses'), token);
    expect(businesses.body.data).toEqual([{ id: expect.any(String), name: expect.any(String) }]);
    const businessId = businesses.body.data[0].id as string;

    const owned = await getJson(sandbox.graph(`${businessId}/owned_whatsapp_business_accounts`), token);
    expect(owned.body.data).toEqual([
      {
        id: wabaIds[0],
        name: expect.any(String),
        currency: 'USD',
        timezone_id: '1',
        message_template_namespace: expect.any(String),
      },
    ]);
    const client = await getJson(sandbox.graph(`${businessId}/client_whatsapp_business_accounts`), token);
    expect(client.body).toEqual({ data: [] });

    const first = await getJson(
      `${sandbox.graph(`${wabaIds[0]}/phone_numbers`)}?limit=1&fields=id,display_phone_number,verified_name,quality_rating,code_verification_status,platform_type,throughput,messaging_limit_tier,name_status`,
      token,
    );
    expect(first.body.data).toHaveLength(1);
    expect(first.body.data[0]).toMatchObject({
      id: expect.stringMatching(/^\d{15}$/),
      display_phone_number: expect.stringMatching(/^\+1 555-01\d{2} \d{3}$/),
      quality_rating: 'GREEN',
      platform_type: 'CLOUD_API',
      throughput: { level: 'STANDARD' },
      // Deprecated since v24.0: the limit belongs to the business portfolio now.
      messaging_limit_tier: null,
      name_status: 'APPROVED',
    });
    expect(first.body.paging.cursors).toEqual({ before: expect.any(String), after: expect.any(String) });
    expect(first.body.paging.next).toMatch(new RegExp(`^${sandbox.url}/v25\\.0/${wabaIds[0]}/phone_numbers\\?`));
    const second = await getJson(first.body.paging.next, token);
    expect(second.body.data).toHaveLength(1);
    expect(second.body.data[0].id).not.toBe(first.body.data[0].id);
    expect(second.body.paging.next).toBeUndefined();
    expect(second.body.paging.previous).toEqual(expect.any(String));
  });

  it('redirects a denial with Meta parameters', async () => {
    const res = await submitDialog(
      sandbox,
      { redirectUri: REDIRECT, state: 'st-deny', scope: SCOPE },
      { decision: 'deny' },
    );
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get('location')!);
    expect(Object.fromEntries(location.searchParams)).toEqual({
      error: 'access_denied',
      error_code: '200',
      error_description: 'Permissions error',
      error_reason: 'user_denied',
      state: 'st-deny',
    });
    expect(res.headers.get('location')).toContain('error_description=Permissions+error');
  });

  it('refuses a used code with 36009 and keeps the first token valid', async () => {
    const code = await approvedCode();
    const first = await exchange(code, REDIRECT);
    secrets.push(first.body.access_token);
    const again = await exchange(code, REDIRECT);
    expect(again.status).toBe(400);
    expect(again.body.error).toMatchObject({
      type: 'OAuthException',
      code: 100,
      error_subcode: 36009,
      message: 'This authorization code has been used.',
      fbtrace_id: expect.any(String),
    });
    expect((await getJson(sandbox.graph('me/businesses'), first.body.access_token)).status).toBe(200);
  });

  it('refuses a redirect_uri that differs from the dialog one with 36008, and an expired code with 36007', async () => {
    const mismatch = await exchange(await approvedCode(), `${REDIRECT}/`);
    expect(mismatch.body.error).toMatchObject({ code: 100, error_subcode: 36008 });
    const late = await approvedCode();
    sandbox.state.advanceClock(11 * 60_000);
    const expired = await exchange(late, REDIRECT);
    expect(expired.body.error).toMatchObject({
      code: 100,
      error_subcode: 36007,
      message: 'This authorization code has expired.',
    });
    const badSecret = await getJson(
      `${sandbox.graph('oauth/access_token')}?client_id=${sandbox.appId}&client_secret=wrong&code=x&redirect_uri=${REDIRECT}`,
    );
    expect(badSecret.body.error).toMatchObject({ code: 1, message: 'Error validating client secret.' });
  });

  it('gives the popup a FINISH event and a 30-second code exchangeable without redirect_uri for a business token', async () => {
    const res = await submitDialog(
      sandbox,
      { configId: 'cfg-1', display: 'popup', origin: 'http://localhost:8000' },
      { decision: 'approve' },
    );
    expect(res.status).toBe(200);
    const result = popupResult(await res.text());
    expect(result.targetOrigin).toBe('http://localhost:8000');
    expect(result.sessionInfo).toEqual({
      data: {
        phone_number_id: expect.stringMatching(/^\d{15}$/),
        waba_id: expect.stringMatching(/^\d{15}$/),
        business_id: expect.any(String),
      },
      type: 'WA_EMBEDDED_SIGNUP',
      event: 'FINISH',
    });
    const code = (result.response.authResponse as Json).code as string;
    expect(result.response.status).toBe('connected');
    secrets.push(code);
    const tokenRes = await exchange(code);
    expect(tokenRes.body).toEqual({ access_token: expect.any(String), token_type: 'bearer' });
    secrets.push(tokenRes.body.access_token);
    const debug = await getJson(
      `${sandbox.graph('debug_token')}?input_token=${tokenRes.body.access_token}&access_token=${sandbox.appId}|${sandbox.appSecret}`,
    );
    expect(debug.body.data).toMatchObject({ type: 'SYSTEM_USER', expires_at: 0, is_valid: true });

    const slow = popupResult(
      await (await submitDialog(sandbox, { configId: 'cfg-1', display: 'popup' }, { decision: 'approve' })).text(),
    );
    sandbox.state.advanceClock(31_000);
    const expired = await exchange((slow.response.authResponse as Json).code);
    expect(expired.body.error).toMatchObject({ code: 100, error_subcode: 36007 });

    const cancelled = popupResult(
      await (await submitDialog(sandbox, { configId: 'cfg-1', display: 'popup' }, { decision: 'deny' })).text(),
    );
    expect(cancelled.sessionInfo).toEqual({
      data: { current_step: expect.any(String) },
      type: 'WA_EMBEDDED_SIGNUP',
      event: 'CANCEL',
    });
    expect(cancelled.response).toEqual({ authResponse: null, status: 'unknown' });
  });

  it('issues a 60-day system-user token for a configuration that asks for it, refreshed only with the flag', async () => {
    sandbox.state.setConfigurationTokenExpiration('cfg-60', '60_days');
    const res = await submitDialog(sandbox, { configId: 'cfg-60', display: 'popup' }, { decision: 'approve' });
    const code = (popupResult(await res.text()).response.authResponse as Json).code as string;
    secrets.push(code);
    const issued = await exchange(code);
    expect(issued.body).toEqual({ access_token: expect.any(String), token_type: 'bearer', expires_in: 5_184_000 });
    const token = issued.body.access_token as string;
    secrets.push(token);
    const debug = async (input: string) =>
      (
        await getJson(
          `${sandbox.graph('debug_token')}?input_token=${input}&access_token=${sandbox.appId}|${sandbox.appSecret}`,
        )
      ).body.data;
    const first = await debug(token);
    expect(first).toMatchObject({ type: 'SYSTEM_USER', is_valid: true, expires_at: expect.any(Number) });

    const refresh = (flag: boolean) =>
      getJson(
        `${sandbox.graph('oauth/access_token')}?${new URLSearchParams({
          grant_type: 'fb_exchange_token',
          client_id: sandbox.appId,
          client_secret: sandbox.appSecret,
          ...(flag ? { set_token_expires_in_60_days: 'true' } : {}),
          fb_exchange_token: token,
        })}`,
      );
    sandbox.state.advanceClock(50 * 86_400_000);
    const plain = await refresh(false);
    secrets.push(plain.body.access_token);
    expect((await debug(plain.body.access_token)).expires_at).toBe(first.expires_at);
    const refreshed = await refresh(true);
    secrets.push(refreshed.body.access_token);
    expect(refreshed.body).toEqual({ access_token: expect.any(String), token_type: 'bearer', expires_in: 5_184_000 });
    expect((await debug(refreshed.body.access_token)).expires_at - first.expires_at).toBe(50 * 86_400);
    // The old token stays valid until its own expiry.
    expect((await debug(token)).is_valid).toBe(true);
    expect(sandbox.state.calls({ operation: 'oauth.fb_exchange' }).slice(-2)).toMatchObject([
      { setTokenExpiresIn60Days: false },
      { setTokenExpiresIn60Days: true },
    ]);
  });

  it('reports the portfolio’s messaging limit on numbers from v24.0, the deprecated tier as null', async () => {
    const account = sandbox.state.createAccount({ numbers: 1 });
    const token = await tokenFor(account.wabaId);
    const phoneNumberId = account.phoneNumberIds[0]!;
    const fields = 'messaging_limit_tier,whatsapp_business_manager_messaging_limit,throughput';
    const v24 = await getJson(`${sandbox.url}/v24.0/${phoneNumberId}?fields=${fields}`, token);
    expect(v24.body).toEqual({
      id: phoneNumberId,
      messaging_limit_tier: null,
      whatsapp_business_manager_messaging_limit: 'TIER_1K',
      throughput: { level: 'STANDARD' },
    });
    const v23 = await getJson(`${sandbox.url}/v23.0/${phoneNumberId}?fields=messaging_limit_tier`, token);
    expect(v23.body).toEqual({ id: phoneNumberId, messaging_limit_tier: 'TIER_1K' });
    const unknown = await getJson(`${sandbox.url}/v23.0/${phoneNumberId}?fields=${fields}`, token);
    expect(unknown.status).toBe(400);

    const upgrade = sandbox.state.upgradeThroughput(phoneNumberId)!;
    expect((upgrade.payload as Json).entry[0].changes[0]).toEqual({
      field: 'phone_number_quality_update',
      value: {
        display_phone_number: expect.stringMatching(/^\d+$/),
        event: 'THROUGHPUT_UPGRADE',
        current_limit: 'TIER_UNLIMITED',
      },
    });
    expect((await getJson(`${sandbox.url}/v24.0/${phoneNumberId}?fields=throughput`, token)).body.throughput).toEqual({
      level: 'HIGH',
    });
  });

  it('sends a reply: logs its context id and posts signed sent, delivered and read statuses', async () => {
    const account = sandbox.state.createAccount({ numbers: 1 });
    const token = await tokenFor(account.wabaId);
    const phoneNumberId = account.phoneNumberIds[0]!;
    expect((await postJson(sandbox.graph(`${account.wabaId}/subscribed_apps`), {}, token)).body).toEqual({
      success: true,
    });
    const inbound = sandbox.state.sendCustomerMessage({
      phoneNumberId,
      from: '15551230001',
      name: 'Ana',
      text: 'hello?',
    });

    const sent = await postJson(
      sandbox.graph(`${phoneNumberId}/messages`),
      {
        messaging_product: 'whatsapp',
        recipient_type: 'individual',
        to: '+1 555 123 0001',
        type: 'text',
        text: { body: 'Hi Ana!' },
        context: { message_id: inbound.messageId },
      },
      token,
    );
    expect(sent.status).toBe(200);
    expect(sent.body).toEqual({
      messaging_product: 'whatsapp',
      contacts: [{ input: '+1 555 123 0001', wa_id: '15551230001' }],
      messages: [{ id: expect.stringMatching(/^wamid\./) }],
    });
    const wamid = sent.body.messages[0].id as string;
    const call = sandbox.state.calls({ operation: 'messages.send', objectId: phoneNumberId }).at(-1)!;
    expect(call).toMatchObject({
      status: 200,
      faulted: false,
      effect: 'applied',
      messageContextId: inbound.messageId,
      textBody: 'Hi Ana!',
      messageId: wamid,
    });

    const statuses = await waitFor(
      () => {
        const got = receiver.received.flatMap((r) =>
          (((r.body as Json).entry?.[0]?.changes?.[0]?.value?.statuses ?? []) as Json[])
            .filter((s) => s.id === wamid)
            .map((s) => ({ s, r })),
        );
        return got.length === 3 ? got : undefined;
      },
      5_000,
      'three statuses',
    );
    expect(statuses.map(({ s }) => s.status).sort()).toEqual(['delivered', 'read', 'sent']);
    for (const { r } of statuses)
      expect(verifySignature(r.raw, r.headers['x-hub-signature-256'] as string, sandbox.appSecret)).toBe(true);
    const sentStatus = statuses.find(({ s }) => s.status === 'sent')!;
    expect(sentStatus.r.body).toEqual({
      object: 'whatsapp_business_account',
      entry: [
        {
          id: account.wabaId,
          changes: [
            {
              field: 'messages',
              value: {
                messaging_product: 'whatsapp',
                metadata: {
                  display_phone_number: account.displayPhoneNumbers[0]!.replace(/\D/g, ''),
                  phone_number_id: phoneNumberId,
                },
                statuses: [
                  {
                    id: wamid,
                    status: 'sent',
                    timestamp: expect.stringMatching(/^\d{10}$/),
                    recipient_id: '15551230001',
                    recipient_user_id: expect.stringMatching(/^[A-Z]{2}\.\d+$/),
                    conversation: {
                      id: expect.any(String),
                      expiration_timestamp: expect.any(String),
                      origin: { type: 'service' },
                    },
                    pricing: {
                      billable: false,
                      pricing_model: 'PMP',
                      category: 'service',
                      type: 'free_customer_service',
                    },
                  },
                ],
              },
            },
          ],
        },
      ],
    });
    const conversation = sandbox.state.conversation(phoneNumberId, '15551230001');
    expect(conversation.map((m) => [m.direction, m.text])).toEqual([
      ['inbound', 'hello?'],
      ['outbound', 'Hi Ana!'],
    ]);
    expect(conversation[1]).toMatchObject({ contextMessageId: inbound.messageId, status: 'read' });

    const markRead = (extra: Record<string, unknown> = {}) =>
      postJson(
        sandbox.graph(`${phoneNumberId}/messages`),
        { messaging_product: 'whatsapp', status: 'read', message_id: inbound.messageId, ...extra },
        token,
      );
    const read = await markRead();
    expect(read.body).toEqual({ success: true });
    expect(sandbox.state.conversation(phoneNumberId, '15551230001')[0]!.readAt).toEqual(expect.any(String));

    // Meta's typing indicator rides on the mark-read call; the call log records it.
    expect((await markRead({ typing_indicator: { type: 'text' } })).body).toEqual({ success: true });
    const reads = sandbox.state.calls({ operation: 'messages.read', objectId: phoneNumberId });
    expect(reads.map((c) => c.typingIndicator)).toEqual([undefined, 'text']);
    const wrong = await markRead({ typing_indicator: { type: 'audio' } });
    expect(wrong.status).toBe(400);
    expect(wrong.body.error.code).toBe(100);
  });

  it('redelivers a customer message webhook until it gets a 200, signed with the app secret', async () => {
    const account = sandbox.state.createAccount({ numbers: 1, subscribed: true });
    const phoneNumberId = account.phoneNumberIds[0]!;
    receiver.respond = (_n, body) => {
      const mine = JSON.stringify(body).includes(phoneNumberId);
      const tries = receiver.received.filter((r) => JSON.stringify(r.body).includes(phoneNumberId)).length;
      return mine && tries < 2 ? 500 : 200;
    };
    const { messageId, timestamp } = sandbox.state.sendCustomerMessage({
      phoneNumberId,
      from: '447700900123',
      name: 'Bo',
      text: 'order status?',
    });
    const attempts = await waitFor(
      () => {
        const list = sandbox.state.deliveries({ messageId });
        return list.some((a) => a.delivered) ? list : undefined;
      },
      5_000,
      'a delivered attempt',
    );
    expect(attempts.map((a) => a.httpStatus)).toEqual([500, 500, 200]);
    const deliveredCopies = receiver.received.filter((r) => JSON.stringify(r.body).includes(messageId));
    expect(deliveredCopies).toHaveLength(3);
    for (const copy of deliveredCopies)
      expect(verifySignature(copy.raw, copy.headers['x-hub-signature-256'] as string, sandbox.appSecret)).toBe(true);
    expect(deliveredCopies[2]!.body).toEqual({
      object: 'whatsapp_business_account',
      entry: [
        {
          id: account.wabaId,
          changes: [
            {
              field: 'messages',
              value: {
                messaging_product: 'whatsapp',
                metadata: {
                  display_phone_number: account.displayPhoneNumbers[0]!.replace(/\D/g, ''),
                  phone_number_id: phoneNumberId,
                },
                contacts: [
                  { profile: { name: 'Bo' }, wa_id: '447700900123', user_id: expect.stringMatching(/^[A-Z]{2}\.\d+$/) },
                ],
                messages: [
                  {
                    from: '447700900123',
                    from_user_id: expect.stringMatching(/^[A-Z]{2}\.\d+$/),
                    id: messageId,
                    timestamp,
                    type: 'text',
                    text: { body: 'order status?' },
                  },
                ],
              },
            },
          ],
        },
      ],
    });
  });

  it('batches several customer messages in one webhook POST', async () => {
    const account = sandbox.state.createAccount({ numbers: 1, subscribed: true });
    const phoneNumberId = account.phoneNumberIds[0]!;
    const batch = await postJson(`${sandbox.url}/sandbox/customers/messages/batch`, {
      messages: [
        { phoneNumberId, from: '15550100001', name: 'A', text: 'one' },
        { phoneNumberId, from: '15550100002', name: 'B', type: 'image', text: 'a photo' },
        {
          phoneNumberId,
          from: '15550100001',
          type: 'interactive',
          interactive: { type: 'button_reply', button_reply: { id: 'yes', title: 'Yes' } },
        },
      ],
    });
    expect(batch.status).toBe(202);
    const ids = (batch.body.data as Json[]).map((m) => m.messageId as string);
    const post = await waitFor(() => receiver.received.find((r) => JSON.stringify(r.body).includes(ids[0]!)));
    const value = (post.body as Json).entry[0].changes[0].value;
    expect(value.contacts).toEqual([
      { profile: { name: 'A' }, wa_id: '15550100001', user_id: expect.stringMatching(/^[A-Z]{2}\.\d+$/) },
      { profile: { name: 'B' }, wa_id: '15550100002', user_id: expect.stringMatching(/^[A-Z]{2}\.\d+$/) },
    ]);
    expect(value.messages.map((m: Json) => m.id)).toEqual(ids);
    expect(value.messages[1].image).toMatchObject({
      caption: 'a photo',
      mime_type: 'image/jpeg',
      id: expect.any(String),
      sha256: expect.any(String),
    });
    expect(value.messages[2].interactive).toEqual({ type: 'button_reply', button_reply: { id: 'yes', title: 'Yes' } });
    expect(sandbox.state.deliveries({ messageId: ids[2]! })).toHaveLength(1);
  });

  it('stops statuses where told, fails sends with a given error, and can report the window as a failed status', async () => {
    const account = sandbox.state.createAccount({ numbers: 1, subscribed: true });
    const token = await tokenFor(account.wabaId);
    const number = account.phoneNumberIds[0]!;
    const send = async (to: string) =>
      (
        await postJson(
          sandbox.graph(`${number}/messages`),
          { messaging_product: 'whatsapp', to, type: 'text', text: { body: 'x' } },
          token,
        )
      ).body.messages[0].id as string;
    const statusesOf = (wamid: string) =>
      sandbox.state.webhooks({ messageId: wamid, field: 'messages' }).map((w) => w.status);

    sandbox.state.sendCustomerMessage({ phoneNumberId: number, from: '15550300001', text: 'hi' });
    sandbox.state.setStatusMode(number, { stopAt: 'delivered' });
    const delivered = await send('15550300001');
    await waitFor(() => statusesOf(delivered).length === 2);
    await quietPeriod(150);
    expect(statusesOf(delivered)).toEqual(['sent', 'delivered']);

    const failure = {
      code: 131026,
      title: 'Message undeliverable',
      message: 'Message undeliverable',
      details: 'Message Undeliverable.',
    };
    await postJson(`${sandbox.url}/sandbox/numbers/${number}/status-mode`, { fail: failure });
    const failed = await send('15550300001');
    const record = await waitFor(() => sandbox.state.webhooks({ messageId: failed, status: 'failed' })[0]);
    expect((record.payload as Json).entry[0].changes[0].value.statuses[0].errors).toEqual([
      {
        code: 131026,
        title: 'Message undeliverable',
        message: 'Message undeliverable',
        error_data: { details: 'Message Undeliverable.' },
        href: expect.any(String),
      },
    ]);

    sandbox.state.setStatusMode(number, { fail: null, windowError: 'webhook' });
    const outside = await send('15550300999');
    const late = await waitFor(() => sandbox.state.webhooks({ messageId: outside, status: 'failed' })[0]);
    expect((late.payload as Json).entry[0].changes[0].value.statuses[0].errors[0].code).toBe(131047);
  });

  it('addresses PARTNER_* account updates to the partner business and others to the WABA', async () => {
    const account = sandbox.state.createAccount({ numbers: 1 });
    const removed = await postJson(`${sandbox.url}/sandbox/accounts/${account.wabaId}/events`, {
      field: 'account_update',
      event: 'PARTNER_REMOVED',
    });
    expect(removed.status).toBe(202);
    const partnerEvent = sandbox.state.webhooks({ webhookId: removed.body.webhookId })[0]!;
    const partnerBusinessId = (sandbox.state.dump().app as Json).partnerBusinessId;
    expect((partnerEvent.payload as Json).entry[0]).toMatchObject({
      id: partnerBusinessId,
      changes: [
        { field: 'account_update', value: { event: 'PARTNER_REMOVED', waba_info: { waba_id: account.wabaId } } },
      ],
    });
    const banned = sandbox.state.emitAccountEvent({
      wabaId: account.wabaId,
      field: 'account_update',
      event: 'DISABLED_UPDATE',
      value: { ban_info: { waba_ban_state: 'SCHEDULE_FOR_DISABLE', waba_ban_date: 'April 17, 2025' } },
    });
    expect((banned.payload as Json).entry[0]).toMatchObject({
      id: account.wabaId,
      time: expect.any(Number),
      changes: [
        {
          field: 'account_update',
          value: {
            event: 'DISABLED_UPDATE',
            ban_info: { waba_ban_state: 'SCHEDULE_FOR_DISABLE', waba_ban_date: 'April 17, 2025' },
          },
        },
      ],
    });
  });

  it('registers like Meta: the two-step PIN (133005), 10 calls per 72 hours (133016), then connected', async () => {
    const account = sandbox.state.createAccount({ numbers: 2, registered: false });
    const token = await tokenFor(account.wabaId);
    const [withPin, without] = account.phoneNumberIds as [string, string];
    const register = (id: string, body: unknown) => postJson(sandbox.graph(`${id}/register`), body, token);
    expect((await register(without, { pin: '123456' })).body.error).toMatchObject({ code: 100 });
    expect((await register(without, { messaging_product: 'whatsapp', pin: '12345' })).body.error).toMatchObject({
      code: 100,
    });

    sandbox.state.setNumberFacts(withPin, { twoStepPin: '111111' });
    const mismatch = await register(withPin, { messaging_product: 'whatsapp', pin: '222222' });
    expect(mismatch.status).toBe(400);
    expect(mismatch.body.error).toMatchObject({
      code: 133005,
      type: 'OAuthException',
      message: '(#133005) Two step verification PIN Mismatch',
      error_data: { messaging_product: 'whatsapp', details: expect.any(String) },
      fbtrace_id: expect.any(String),
    });
    expect(sandbox.state.number(withPin).platformType).toBe('NOT_APPLICABLE');

    // A number without two-step verification takes the PIN it is registered with.
    expect((await register(without, { messaging_product: 'whatsapp', pin: '333333' })).body).toEqual({ success: true });
    expect(sandbox.state.number(without)).toMatchObject({ platformType: 'CLOUD_API', twoStepPin: '333333' });
    const node = await fetch(`${sandbox.graph(without)}?fields=platform_type,status`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(await node.json()).toMatchObject({ platform_type: 'CLOUD_API', status: 'CONNECTED' });
    const setPin = await postJson(sandbox.graph(without), { pin: '444444' }, token);
    expect(setPin.body).toEqual({ success: true });
    expect(sandbox.state.number(without).twoStepPin).toBe('444444');

    // Ten calls in the window (the mismatch counted too), the eleventh is refused.
    for (let i = 0; i < 9; i++) await register(withPin, { messaging_product: 'whatsapp', pin: '222222' });
    const limited = await register(withPin, { messaging_product: 'whatsapp', pin: '111111' });
    expect(limited.body.error).toMatchObject({
      code: 133016,
      message: '(#133016) Account register deregister rate limit exceeded',
    });
    // Once those calls are older than 72 hours, the number can register again.
    const calls = sandbox.state.number(withPin).registrationCalls;
    sandbox.state.number(withPin).registrationCalls = calls.map((at) => at - 72 * 3_600_000);
    expect((await register(withPin, { messaging_product: 'whatsapp', pin: '111111' })).body).toEqual({ success: true });
  });

  it('refuses sends over the limits a test sets: throughput (130429) and the pair rate (131056)', async () => {
    const account = sandbox.state.createAccount({ numbers: 1 });
    const token = await tokenFor(account.wabaId);
    const number = account.phoneNumberIds[0]!;
    const customers = ['15550007001', '15550007002', '15550007003'];
    for (const from of customers) sandbox.state.sendCustomerMessage({ phoneNumberId: number, from, text: 'hi' });
    const send = (to: string) =>
      postJson(
        sandbox.graph(`${number}/messages`),
        { messaging_product: 'whatsapp', to, type: 'text', text: { body: 'hello' } },
        token,
      );
    // Off by default: two sends to one customer at once both go.
    expect((await send(customers[0]!)).status).toBe(200);
    expect((await send(customers[0]!)).status).toBe(200);
    const limits = await postJson(`${sandbox.url}/sandbox/numbers/${number}/limits`, {
      messagesPerSecond: 2,
      pairRate: true,
      pairBurst: 1,
    });
    expect(limits.body).toEqual({ success: true });
    expect((await send(customers[1]!)).status).toBe(200);
    const pair = await send(customers[1]!);
    expect(pair.status).toBe(400);
    expect(pair.body.error).toMatchObject({
      code: 131056,
      type: 'OAuthException',
      message: '(#131056) (Business Account, Consumer Account) pair rate limit hit',
      error_data: { messaging_product: 'whatsapp', details: expect.stringContaining('same phone number') },
      fbtrace_id: expect.any(String),
    });
    expect((await send(customers[2]!)).status).toBe(200);
    const throughput = await send(customers[0]!);
    expect(throughput.body.error).toMatchObject({
      code: 130429,
      message: '(#130429) Rate limit hit',
      error_data: { messaging_product: 'whatsapp', details: 'Cloud API message throughput has been reached.' },
    });
    const refused = sandbox.state.calls({ operation: 'messages.send', objectId: number }).map((c) => c.errorCode);
    expect(refused.filter((code) => code !== undefined)).toEqual([131056, 130429]);
  });

  it('refuses free-form sends outside the 24-hour window (131047) and from unregistered numbers (133010)', async () => {
    const account = sandbox.state.createAccount({ numbers: 2 });
    const token = await tokenFor(account.wabaId);
    const [number, other] = account.phoneNumberIds as [string, string];
    sandbox.state.sendCustomerMessage({
      phoneNumberId: number,
      from: '15550009999',
      text: 'old',
      timestamp: Math.floor(Date.now() / 1000) - 25 * 3600,
    });
    const late = await postJson(
      sandbox.graph(`${number}/messages`),
      { messaging_product: 'whatsapp', to: '15550009999', type: 'text', text: { body: 'sorry' } },
      token,
    );
    expect(late.status).toBe(400);
    expect(late.body.error).toMatchObject({
      code: 131047,
      message: '(#131047) Re-engagement message',
      error_data: { messaging_product: 'whatsapp', details: expect.stringContaining('24 hours') },
    });
    sandbox.state.setRegistered(other, false);
    sandbox.state.sendCustomerMessage({ phoneNumberId: other, from: '15550009999', text: 'new' });
    const unregistered = await postJson(
      sandbox.graph(`${other}/messages`),
      { messaging_product: 'whatsapp', to: '15550009999', type: 'text', text: { body: 'hi' } },
      token,
    );
    expect(unregistered.body.error).toMatchObject({ code: 133010 });
    const register = await postJson(
      sandbox.graph(`${other}/register`),
      { messaging_product: 'whatsapp', pin: '918273' },
      token,
    );
    expect(register.body).toEqual({ success: true });
    const registerCall = sandbox.state.calls({ operation: 'phone.register', objectId: other }).at(-1)!;
    expect(registerCall).toMatchObject({ status: 200, effect: 'applied' });
    expect(JSON.stringify(registerCall)).not.toMatch(/pin|918273/);
    const afterRegister = await postJson(
      sandbox.graph(`${other}/messages`),
      { messaging_product: 'whatsapp', to: '15550009999', type: 'text', text: { body: 'hi' } },
      token,
    );
    expect(afterRegister.status).toBe(200);
  });

  it('injects faults by count, status, error and object id', async () => {
    const account = sandbox.state.createAccount({ numbers: 2 });
    const token = await tokenFor(account.wabaId);
    const [number, other] = account.phoneNumberIds as [string, string];
    for (const id of [number, other])
      sandbox.state.sendCustomerMessage({ phoneNumberId: id, from: '15550001111', text: 'hi' });
    const send = (id: string) =>
      postJson(
        sandbox.graph(`${id}/messages`),
        { messaging_product: 'whatsapp', to: '15550001111', type: 'text', text: { body: 'x' } },
        token,
      );

    const fault = await postJson(`${sandbox.url}/sandbox/faults`, {
      operation: 'messages.send',
      times: 2,
      status: 429,
      error: { code: 130429, message: '(#130429) Rate limit hit' },
      objectId: number,
    });
    expect(fault.status).toBe(201);
    expect((await send(other)).status).toBe(200);
    const first = await send(number);
    expect(first.status).toBe(429);
    expect(first.body.error).toMatchObject({
      code: 130429,
      message: '(#130429) Rate limit hit',
      type: 'OAuthException',
    });
    expect((await send(number)).status).toBe(429);
    expect((await send(number)).status).toBe(200);
    const faulted = sandbox.state.calls({ operation: 'messages.send', objectId: number }).filter((c) => c.faulted);
    expect(faulted).toHaveLength(2);
    expect(faulted[0]).toMatchObject({
      status: 429,
      effect: 'none',
      errorCode: 130429,
      to: '15550001111',
      textBody: 'x',
    });
    expect(sandbox.state.conversation(number, '15550001111').filter((m) => m.direction === 'outbound')).toHaveLength(1);

    sandbox.state.addFault({ operation: 'waba.phone_numbers' });
    const server = await getJson(sandbox.graph(`${account.wabaId}/phone_numbers`), token);
    expect(server.status).toBe(500);
    expect(server.body.error).toMatchObject({ code: 2, is_transient: true });
  });

  it('hangs up without answering, and can apply the call before failing it', async () => {
    const account = sandbox.state.createAccount({ numbers: 1 });
    const token = await tokenFor(account.wabaId);
    const number = account.phoneNumberIds[0]!;
    sandbox.state.sendCustomerMessage({ phoneNumberId: number, from: '15550002222', text: 'hi' });

    sandbox.state.addFault({ operation: 'waba.phone_numbers', hangMs: 150 });
    const started = Date.now();
    await expect(
      fetch(sandbox.graph(`${account.wabaId}/phone_numbers`), { headers: { authorization: `Bearer ${token}` } }),
    ).rejects.toThrow();
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(sandbox.state.calls({ operation: 'waba.phone_numbers' }).at(-1)).toMatchObject({ status: 0, faulted: true });

    sandbox.state.addFault({ operation: 'messages.send', status: 500, effect: 'after' });
    const lost = await postJson(
      sandbox.graph(`${number}/messages`),
      { messaging_product: 'whatsapp', to: '15550002222', type: 'text', text: { body: 'accepted but lost' } },
      token,
    );
    expect(lost.status).toBe(500);
    const call = sandbox.state.calls({ operation: 'messages.send', objectId: number }).at(-1)!;
    expect(call).toMatchObject({
      status: 500,
      faulted: true,
      effect: 'applied',
      textBody: 'accepted but lost',
      messageId: expect.stringMatching(/^wamid\./),
    });
    const outbound = sandbox.state.conversation(number, '15550002222').find((m) => m.direction === 'outbound')!;
    expect(outbound.text).toBe('accepted but lost');
    expect(outbound.id).toBe(call.messageId);
  });

  it('answers 190 for invalidated and expired tokens, and debug_token says is_valid false', async () => {
    const account = sandbox.state.createAccount({ numbers: 1 });
    const token = await tokenFor(account.wabaId);
    const number = account.phoneNumberIds[0]!;
    const invalidate = await postJson(`${sandbox.url}/sandbox/accounts/${account.wabaId}/tokens/invalidate`, {
      subcode: 460,
    });
    expect(invalidate.body).toEqual({ invalidated: 1 });
    const graph = await getJson(sandbox.graph(`${account.wabaId}/phone_numbers`), token);
    expect(graph.status).toBe(400);
    expect(graph.body.error).toMatchObject({ code: 190, error_subcode: 460, type: 'OAuthException' });
    const cloud = await postJson(
      sandbox.graph(`${number}/messages`),
      { messaging_product: 'whatsapp', to: '1555', text: { body: 'x' } },
      token,
    );
    expect(cloud.status).toBe(401);
    expect(cloud.body.error).toMatchObject({ code: 190, error_subcode: 460 });
    const debug = await getJson(
      `${sandbox.graph('debug_token')}?input_token=${token}`,
      `${sandbox.appId}|${sandbox.appSecret}`,
    );
    expect(debug.body.data).toMatchObject({
      is_valid: false,
      error: { code: 190, subcode: 460, message: expect.any(String) },
    });

    const second = sandbox.state.createAccount({ numbers: 1 });
    const expiring = await tokenFor(second.wabaId);
    expect(
      (await postJson(`${sandbox.url}/sandbox/accounts/${second.wabaId}/tokens/expiry`, { expiresInSeconds: 0 })).body,
    ).toEqual({ updated: 1 });
    expect((await getJson(sandbox.graph('me/businesses'), expiring)).body.error).toMatchObject({
      code: 190,
      error_subcode: 463,
    });
    const unknown = await getJson(
      `${sandbox.graph('debug_token')}?input_token=EAAGnotatoken`,
      `${sandbox.appId}|${sandbox.appSecret}`,
    );
    expect(unknown.body.data).toMatchObject({ is_valid: false, error: { code: 190 } });
  });

  it('keeps the expiry of a long-lived token when extend-on-exchange is off', async () => {
    const account = sandbox.state.createAccount({ numbers: 1 });
    const short = await tokenFor(account.wabaId);
    const swap = (t: string) =>
      getJson(
        `${sandbox.graph('oauth/access_token')}?${new URLSearchParams({ grant_type: 'fb_exchange_token', client_id: sandbox.appId, client_secret: sandbox.appSecret, fb_exchange_token: t })}`,
      );
    const long = (await swap(short)).body;
    secrets.push(long.access_token);
    sandbox.state.setExtendOnExchange(account.wabaId, false);
    sandbox.state.advanceClock(86_400_000);
    const again = (await swap(long.access_token)).body;
    secrets.push(again.access_token);
    expect(again.expires_in).toBeLessThanOrEqual(long.expires_in - 86_400 + 1);
    expect(again.expires_in).toBeGreaterThan(long.expires_in - 86_400 - 5);
  });

  it('subscribes idempotently, lists and unsubscribes, and hides WABAs a token was not granted', async () => {
    const mine = sandbox.state.createAccount({ numbers: 1 });
    const theirs = sandbox.state.createAccount({ numbers: 1 });
    const token = await tokenFor(mine.wabaId);
    const url = sandbox.graph(`${mine.wabaId}/subscribed_apps`);
    expect((await postJson(url, {}, token)).body).toEqual({ success: true });
    expect((await postJson(url, {}, token)).body).toEqual({ success: true });
    expect((await getJson(url, token)).body).toEqual({
      data: [{ whatsapp_business_api_data: { id: sandbox.appId, link: expect.any(String), name: 'Sandbox App' } }],
    });
    expect((await postJson(url, {}, token, 'DELETE')).body).toEqual({ success: true });
    expect((await getJson(url, token)).body).toEqual({ data: [] });
    const hidden = await getJson(sandbox.graph(`${theirs.wabaId}/phone_numbers`), token);
    expect(hidden.status).toBe(400);
    expect(hidden.body.error).toMatchObject({ code: 100, error_subcode: 33, type: 'GraphMethodException' });
  });

  it("verifies an override callback URL and then delivers that WABA's webhooks there", async () => {
    const account = sandbox.state.createAccount({ numbers: 1 });
    const token = await tokenFor(account.wabaId);
    const override = `${receiver.url}?waba=${account.wabaId}`;
    const url = sandbox.graph(`${account.wabaId}/subscribed_apps`);
    const refused = await postJson(url, { override_callback_uri: override, verify_token: 'wrong' }, token);
    expect(refused.body.error).toMatchObject({ code: 2200 });
    expect(sandbox.state.subscriptions(account.wabaId).subscribed).toBe(false);
    expect(
      (await postJson(url, { override_callback_uri: override, verify_token: receiver.verifyToken }, token)).body,
    ).toEqual({ success: true });
    expect((await getJson(url, token)).body.data[0]).toMatchObject({ override_callback_uri: override });
    const { messageId } = sandbox.state.sendCustomerMessage({
      phoneNumberId: account.phoneNumberIds[0]!,
      from: '15550400001',
      text: 'hi',
    });
    const attempt = await waitFor(() => sandbox.state.deliveries({ messageId, delivered: true })[0]);
    expect(attempt.url).toBe(override);
  });

  it('uninstalls the app: subscription gone, tokens 190/458, PARTNER_APP_UNINSTALLED posted', async () => {
    const account = sandbox.state.createAccount({ numbers: 1, subscribed: true });
    const token = await tokenFor(account.wabaId);
    const res = await postJson(`${sandbox.url}/sandbox/accounts/${account.wabaId}/uninstall`, {});
    expect(res.body.success).toBe(true);
    expect((await getJson(sandbox.graph(`${account.wabaId}/phone_numbers`), token)).body.error).toMatchObject({
      code: 190,
      error_subcode: 458,
    });
    expect(sandbox.state.subscriptions(account.wabaId).subscribed).toBe(false);
    const webhook = await waitFor(() =>
      receiver.received.find(
        (r) =>
          JSON.stringify(r.body).includes('PARTNER_APP_UNINSTALLED') && JSON.stringify(r.body).includes(account.wabaId),
      ),
    );
    expect((webhook.body as Json).entry[0].changes[0]).toEqual({
      field: 'account_update',
      value: {
        event: 'PARTNER_APP_UNINSTALLED',
        waba_info: { waba_id: account.wabaId, owner_business_id: account.businessId, partner_app_id: sandbox.appId },
      },
    });
  });

  it('posts phone number quality and name updates in Meta shapes', async () => {
    const account = sandbox.state.createAccount({ numbers: 1, subscribed: true });
    const number = account.phoneNumberIds[0]!;
    const quality = await postJson(`${sandbox.url}/sandbox/numbers/${number}/quality`, {
      qualityRating: 'YELLOW',
      messagingLimitTier: 'TIER_250',
    });
    const record = await waitFor(
      () => sandbox.state.webhooks({ webhookId: quality.body.webhookId, delivered: true })[0],
    );
    expect((record.payload as Json).entry[0]).toEqual({
      id: account.wabaId,
      time: expect.any(Number),
      changes: [
        {
          field: 'phone_number_quality_update',
          value: {
            display_phone_number: account.displayPhoneNumbers[0]!.replace(/\D/g, ''),
            event: 'DOWNGRADE',
            old_limit: 'TIER_1K',
            current_limit: 'TIER_250',
            max_daily_conversations_per_business: 'TIER_250',
          },
        },
      ],
    });
    const name = sandbox.state.setNameDecision(number, {
      decision: 'REJECTED',
      requestedVerifiedName: 'Best Shop',
      rejectionReason: 'NAME_FORMAT_UNACCEPTABLE',
    })!;
    expect((name.payload as Json).entry[0].changes[0].value).toEqual({
      display_phone_number: account.displayPhoneNumbers[0]!.replace(/\D/g, ''),
      decision: 'REJECTED',
      requested_verified_name: 'Best Shop',
      rejection_reason: 'NAME_FORMAT_UNACCEPTABLE',
    });
  });

  it('serves the admin endpoints and the JS SDK stand-in over HTTP', async () => {
    const created = await postJson(`${sandbox.url}/sandbox/accounts`, { numbers: 3, name: 'Shop', owned: false });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      wabaId: expect.any(String),
      phoneNumberIds: [expect.any(String), expect.any(String), expect.any(String)],
      clientBusinessId: expect.any(String),
    });
    const token = await tokenFor(created.body.wabaId);
    const client = await getJson(sandbox.graph(`${created.body.businessId}/client_whatsapp_business_accounts`), token);
    expect(client.body.data.map((w: Json) => w.id)).toEqual([created.body.wabaId]);
    const message = await postJson(`${sandbox.url}/sandbox/customers/messages`, {
      phoneNumberId: created.body.phoneNumberIds[0],
      from: '15557654321',
      type: 'reaction',
      reaction: { message_id: 'wamid.X', emoji: '👍' },
    });
    expect(message.status).toBe(202);
    expect(message.body).toMatchObject({
      messageId: expect.stringMatching(/^wamid\./),
      timestamp: expect.stringMatching(/^\d+$/),
    });
    const webhooks = await getJson(
      `${sandbox.url}/sandbox/webhooks?messageId=${encodeURIComponent(message.body.messageId)}`,
    );
    expect(webhooks.body.data[0]).toMatchObject({ skipped: 'not_subscribed' });
    const calls = await getJson(`${sandbox.url}/sandbox/calls?operation=client_wabas`);
    expect(calls.body.data).toEqual([]);
    const clientCalls = await getJson(`${sandbox.url}/sandbox/calls?operation=business.client_wabas`);
    expect(clientCalls.body.data.at(-1)).toMatchObject({
      method: 'GET',
      status: 200,
      objectId: created.body.businessId,
    });
    const sdk = await fetch(`${sandbox.url}/sdk.js`);
    expect(sdk.headers.get('content-type')).toContain('javascript');
    const script = await sdk.text();
    expect(script).toContain('window.FB = FB');
    expect(script).toContain('fbAsyncInit');
    expect(script).toContain(`var ORIGIN = "${sandbox.url}"`);
    const state = await getJson(`${sandbox.url}/sandbox/state`);
    expect(state.status).toBe(200);
  });

  it('never writes tokens, secrets, codes or PINs into the call log or state dump', async () => {
    const everything = JSON.stringify({
      calls: sandbox.state.calls(),
      dump: sandbox.state.dump(),
      http: (await getJson(`${sandbox.url}/sandbox/calls`)).body,
    });
    expect(secrets.length).toBeGreaterThan(10);
    for (const secret of secrets) expect(everything).not.toContain(secret);
  });
});
