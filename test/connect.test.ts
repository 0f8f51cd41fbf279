import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectWorkflowId } from '../src/temporal/names.js';
import { readIntegrationToken } from '../src/store/integrations.js';
import { sha256Hex } from '../src/crypto.js';
import { EncryptionCodec } from '../src/temporal/codec.js';
import { answerDialog, connectThroughMeta, followCallback, getStatus, startConnect } from './helpers/meta-flow.js';
import { authHeaders, tokenFor } from './helpers/jwt.js';
import { newBusinessId } from './helpers/factories.js';
import { DASHBOARD_URL, startStack, TEST_SECRETS, type Stack } from './helpers/stack.js';

const SUCCESS = `${DASHBOARD_URL}/dashboard/integrations?success=true&channel=whatsapp`;
const errorLanding = (code: string) => `${DASHBOARD_URL}/dashboard/integrations?error=${code}`;

describe('connect WhatsApp through Meta OAuth', () => {
  let stack: Stack;
  let api: string;
  beforeAll(async () => {
    stack = await startStack({ api: true, sandbox: true });
    api = stack.api!.url;
  });
  afterAll(() => stack?.close());

  // Without the template catalogue's syncs: an earlier connect's sync may land in any window.
  const callsSince = (seq: number, operation?: string) =>
    stack
      .sandbox!.state.calls({ since: seq, ...(operation ? { operation } : {}) })
      .filter((c) => !c.operation.startsWith('templates.'));
  const lastSeq = () => stack.sandbox!.state.calls().at(-1)?.seq ?? 0;
  const integrationRows = (businessId: string) => stack.db('channel_integrations').where({ business_id: businessId });

  it('connects a business through the real redirects and shows its numbers', async () => {
    const businessId = newBusinessId();
    const since = lastSeq();
    const { dialogUrl, landing } = await connectThroughMeta(api, businessId);

    const dialog = new URL(dialogUrl);
    expect(`${dialog.origin}${dialog.pathname}`).toBe(`${stack.sandbox!.url}/v25.0/dialog/oauth`);
    expect(dialog.searchParams.get('client_id')).toBe(stack.config.meta.appId);
    expect(dialog.searchParams.get('redirect_uri')).toBe(`${api}/api/integrations/whatsapp/callback`);
    expect(dialog.searchParams.get('response_type')).toBe('code');
    expect(dialog.searchParams.get('scope')).toBe(
      'whatsapp_business_management,whatsapp_business_messaging,business_management',
    );
    expect(dialog.searchParams.get('state')!.length).toBeGreaterThanOrEqual(22); // ≥ 128 bits in base64url
    expect(landing.toString()).toBe(SUCCESS);

    const status = await getStatus(api, businessId);
    expect(status.connected).toBe(true);
    expect(status.connect).toBeNull();
    expect(status.integration.state).toBe('active');
    expect(status.integration.tokenHealth.state).toBe('ok');
    // A long-lived token: about 60 days.
    const days = (Date.parse(status.integration.tokenHealth.expiresAt) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(58);
    expect(status.accounts).toHaveLength(1);
    const [account] = status.accounts;
    expect(account.name).toMatch(/Sandbox/);
    expect(account.phoneNumbers).toHaveLength(2);
    for (const number of account.phoneNumbers) {
      expect(Object.keys(number).sort()).toEqual([
        'coexistence',
        'displayPhoneNumber',
        'maxDailyConversationsPerBusiness',
        'messagingLimitTier',
        'nameStatus',
        'phoneNumberId',
        'qualityRating',
        'registration',
        'sendRate',
        'throughputLevel',
        'verifiedName',
        'whatsappBusinessManagerMessagingLimit',
      ]);
      // Sandbox numbers start on the Cloud API: nothing to register, no PIN asked for.
      expect(number.registration).toMatchObject({ state: 'registered', pinSet: false, attemptsLeft: 10 });
    }

    const operations = callsSince(since).map((c) => c.operation);
    expect(operations.filter((o) => o === 'oauth.code_exchange')).toHaveLength(1);
    expect(operations.filter((o) => o === 'oauth.fb_exchange')).toHaveLength(1);
    expect(operations).toContain('debug_token');
    expect(stack.sandbox!.state.subscriptions(account.wabaId).subscribed).toBe(true);
  });

  it('refuses connect and status without a valid bearer token', async () => {
    const wrongSecret = await tokenFor('b', { secret: randomBytes(32).toString('hex') });
    for (const headers of [{}, { authorization: 'Bearer nope' }, { authorization: `Bearer ${wrongSecret}` }] as Array<
      Record<string, string>
    >) {
      for (const path of ['connect', 'status']) {
        const res = await fetch(`${api}/api/integrations/whatsapp/${path}`, { headers, redirect: 'manual' });
        expect(res.status).toBe(401);
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
      }
    }
  });

  it('sends a denial back as access_denied and persists nothing', async () => {
    const businessId = newBusinessId();
    const since = lastSeq();
    const { landing } = await connectThroughMeta(api, businessId, { decision: 'deny' });
    expect(landing.toString()).toBe(errorLanding('access_denied'));
    expect(callsSince(since, 'oauth.code_exchange')).toHaveLength(0);
    expect(await integrationRows(businessId)).toHaveLength(0);
    const status = await getStatus(api, businessId);
    expect(status.connected).toBe(false);
    expect(status.connect.error.code).toBe('access_denied');
  });

  it('answers JSON mode with a one-time URL on its own origin that binds the state to the browser', async () => {
    const businessId = newBusinessId();
    const headers = { ...(await authHeaders(businessId)), accept: 'application/json' };
    const res = await fetch(`${api}/api/integrations/whatsapp/connect`, { headers });
    expect(res.status).toBe(200);
    const { url } = (await res.json()) as { url: string };
    expect(url).toMatch(new RegExp(`^${api}/api/integrations/whatsapp/connect/start\\?ticket=[A-Za-z0-9_-]{43}$`));

    const start = await fetch(url, { redirect: 'manual' });
    expect(start.status).toBe(302);
    const dialog = new URL(start.headers.get('location')!);
    expect(`${dialog.origin}${dialog.pathname}`).toBe(`${stack.sandbox!.url}/v25.0/dialog/oauth`);
    const [cookie] = start.headers.getSetCookie();
    expect(cookie).toMatch(/^__Host-wa_connect_[0-9a-f]{16}=[A-Za-z0-9_-]{43}; /);
    expect(cookie).toMatch(/; Path=\/; Max-Age=600; HttpOnly; SameSite=Lax; Secure$/);
    // Only the nonce's hash is stored, next to the state's.
    const nonce = cookie!.split(';')[0]!.split('=')[1]!;
    const state = dialog.searchParams.get('state')!;
    const row = await stack
      .db('oauth_states')
      .where({ state_hash: sha256Hex(state) })
      .first();
    expect(row?.nonce_hash).toBe(sha256Hex(nonce));
    expect(JSON.stringify(row)).not.toContain(nonce);

    // The ticket is single use.
    const again = await fetch(url, { redirect: 'manual' });
    expect(again.headers.get('location')).toBe(errorLanding('invalid_state'));
    expect(again.headers.getSetCookie()).toHaveLength(0);
  });

  it('refuses an expired ticket', async () => {
    const businessId = newBusinessId();
    const headers = await authHeaders(businessId);
    const res = await fetch(`${api}/api/integrations/whatsapp/connect`, { headers, redirect: 'manual' });
    const url = res.headers.get('location')!;
    const ticket = new URL(url).searchParams.get('ticket')!;
    await stack
      .db('connect_tickets')
      .where({ ticket_hash: sha256Hex(ticket) })
      .update({ expires_at: new Date(Date.now() - 1000) });
    const start = await fetch(url, { redirect: 'manual' });
    expect(start.headers.get('location')).toBe(errorLanding('invalid_state'));
  });

  it('refuses a callback without the connect cookie, or with another browser’s, calling nothing at Meta', async () => {
    const businessId = newBusinessId();
    const callbackUrl = await answerDialog(await startConnect(api, businessId), { decision: 'approve' });
    const state = new URL(callbackUrl).searchParams.get('state')!;
    const name = `__Host-wa_connect_${sha256Hex(state).slice(0, 16)}`;
    const since = lastSeq();

    const mismatch = errorLanding('session_mismatch');
    expect((await followCallback(callbackUrl, { cookie: 'other=1' })).toString()).toBe(mismatch);
    const forged = `${name}=${randomBytes(32).toString('base64url')}`;
    expect((await followCallback(callbackUrl, { cookie: forged })).toString()).toBe(mismatch);
    // The cookie another connect set (the attacker's own browser) does not fit this state either.
    const otherHeaders = await authHeaders(newBusinessId());
    const connectUrl = `${api}/api/integrations/whatsapp/connect`;
    const other = await fetch(connectUrl, { headers: otherHeaders, redirect: 'manual' });
    const otherStart = await fetch(other.headers.get('location')!, { redirect: 'manual' });
    const otherCookie = otherStart.headers.getSetCookie()[0]!.split(';')[0]!;
    expect((await followCallback(callbackUrl, { cookie: otherCookie })).toString()).toBe(mismatch);
    expect(callsSince(since)).toHaveLength(0);
    expect(await integrationRows(businessId)).toHaveLength(0);

    // The browser that asked still completes it.
    expect((await followCallback(callbackUrl)).toString()).toBe(SUCCESS);
  });

  it('refuses an unknown, expired or missing state without calling Meta', async () => {
    const businessId = newBusinessId();
    const dialogUrl = await startConnect(api, businessId);
    const callbackUrl = await answerDialog(dialogUrl, { decision: 'approve' });
    const since = lastSeq();

    const forged = new URL(callbackUrl);
    forged.searchParams.set('state', randomBytes(32).toString('base64url'));
    expect((await followCallback(forged.toString())).toString()).toBe(errorLanding('invalid_state'));
    const missing = new URL(callbackUrl);
    missing.searchParams.delete('state');
    expect((await followCallback(missing.toString())).toString()).toBe(errorLanding('invalid_state'));

    const state = new URL(callbackUrl).searchParams.get('state')!;
    await stack
      .db('oauth_states')
      .where({ state_hash: sha256Hex(state) })
      .update({ expires_at: new Date(Date.now() - 1000) });
    expect((await followCallback(callbackUrl)).toString()).toBe(errorLanding('invalid_state'));

    expect(callsSince(since)).toHaveLength(0);
    expect(await integrationRows(businessId)).toHaveLength(0);
  });

  it('answers a reloaded callback with the same outcome and never exchanges the code twice', async () => {
    const businessId = newBusinessId();
    const since = lastSeq();
    const { callbackUrl, landing } = await connectThroughMeta(api, businessId);
    expect(landing.toString()).toBe(SUCCESS);
    for (let i = 0; i < 3; i++) expect((await followCallback(callbackUrl)).toString()).toBe(SUCCESS);
    expect(callsSince(since, 'oauth.code_exchange')).toHaveLength(1);
    expect(await integrationRows(businessId)).toHaveLength(1);

    // A denial reloaded stays a denial.
    const denied = await connectThroughMeta(api, newBusinessId(), { decision: 'deny' });
    expect((await followCallback(denied.callbackUrl)).toString()).toBe(errorLanding('access_denied'));
  });

  it('recovers from transient Meta failures on every step', async () => {
    const businessId = newBusinessId();
    const since = lastSeq();
    const sandbox = stack.sandbox!.state;
    sandbox.addFault({
      operation: 'oauth.code_exchange',
      status: 500,
      error: { code: 2, message: 'Service temporarily unavailable' },
    });
    sandbox.addFault({ operation: 'oauth.fb_exchange', status: 503 });
    sandbox.addFault({
      operation: 'debug_token',
      status: 400,
      error: { code: 4, message: 'Application request limit reached' },
    });
    sandbox.addFault({
      operation: 'waba.phone_numbers',
      status: 500,
      error: { code: 1, message: 'An unknown error occurred' },
    });
    sandbox.addFault({ operation: 'waba.subscribe', status: 429, error: { code: 80007, message: 'Rate limit hit' } });
    const { landing } = await connectThroughMeta(api, businessId);
    // Rate limits back off for seconds: the callback may answer "pending" before the end.
    expect([SUCCESS, `${DASHBOARD_URL}/dashboard/integrations?pending=true&channel=whatsapp`]).toContain(
      landing.toString(),
    );
    await expect
      .poll(async () => (await getStatus(api, businessId)).connected, { timeout: 30_000, interval: 250 })
      .toBe(true);
    const faulted = callsSince(since)
      .filter((c) => c.faulted)
      .map((c) => c.operation);
    expect(faulted.sort()).toEqual([
      'debug_token',
      'oauth.code_exchange',
      'oauth.fb_exchange',
      'waba.phone_numbers',
      'waba.subscribe',
    ]);
  });

  it('fails at once on a permanent error and leaves nothing half-written', async () => {
    const businessId = newBusinessId();
    stack.sandbox!.state.addFault({
      operation: 'waba.phone_numbers',
      status: 403,
      error: { code: 200, message: '(#200) Permissions error' },
    });
    const { landing } = await connectThroughMeta(api, businessId);
    expect(landing.toString()).toBe(errorLanding('permission_denied'));
    expect(await integrationRows(businessId)).toHaveLength(0);
    const workflowIds = (await stack.db('connect_attempts').where({ business_id: businessId })).map(
      (a) => a.workflow_id,
    );
    expect(await stack.db('token_staging').whereIn('connect_id', workflowIds)).toHaveLength(0);
    const status = await getStatus(api, businessId);
    expect(status.connect).toEqual({
      state: 'failed',
      step: null,
      error: { code: 'permission_denied', message: expect.any(String) },
      workflowId: expect.stringMatching(/^connect\//),
    });
  });

  it('refuses numbers connected to another business and changes nothing there', async () => {
    const owner = newBusinessId('owner');
    const intruder = newBusinessId('intruder');
    await connectThroughMeta(api, owner);
    const wabaId = (await getStatus(api, owner)).accounts[0].wabaId;

    const { landing } = await connectThroughMeta(api, intruder, { decision: 'approve', account: wabaId });
    expect(landing.toString()).toBe(errorLanding('number_in_use'));
    expect(await integrationRows(intruder)).toHaveLength(0);
    const ownerStatus = await getStatus(api, owner);
    expect(ownerStatus.connected).toBe(true);
    expect(ownerStatus.accounts[0].phoneNumbers).toHaveLength(2);
    // The failed connect's compensation must not unsubscribe an account the owner still uses.
    expect(stack.sandbox!.state.subscriptions(wabaId).subscribed).toBe(true);
  });

  it('connects again in place, never duplicating the integration or its numbers', async () => {
    const businessId = newBusinessId();
    await connectThroughMeta(api, businessId);
    const first = await getStatus(api, businessId);
    const { landing } = await connectThroughMeta(api, businessId, {
      decision: 'approve',
      account: first.accounts[0].wabaId,
    });
    expect(landing.toString()).toBe(SUCCESS);
    const second = await getStatus(api, businessId);
    expect(second.integration.id).toBe(first.integration.id);
    expect(second.integration.connectedAt).toBe(first.integration.connectedAt);
    expect(await integrationRows(businessId)).toHaveLength(1);
    expect(await stack.db('whatsapp_phone_numbers').where({ integration_id: first.integration.id })).toHaveLength(2);
  });

  it('keeps every token, code and secret out of status, workflow history and payloads', async () => {
    const businessId = newBusinessId();
    const { callbackUrl, landing } = await connectThroughMeta(api, businessId);
    expect(landing.toString()).toBe(SUCCESS);
    const status = await getStatus(api, businessId);
    const token = await readIntegrationToken(stack.db, stack.config.keyring, status.integration.id);
    expect(token).toMatch(/^EAA/);
    const callback = new URL(callbackUrl);
    const code = callback.searchParams.get('code')!;
    const state = callback.searchParams.get('state')!;
    const secrets = [token!, code, state, TEST_SECRETS.META_APP_SECRET];

    const statusText = JSON.stringify(status);
    const workflowId = connectWorkflowId(businessId, sha256Hex(state));
    const history = await stack.client.workflow.getHandle(workflowId).fetchHistory();
    const raw = Buffer.from(JSON.stringify(history));
    // Decoded too: payloads must not hold secrets in the first place, encryption aside.
    const codec = new EncryptionCodec(stack.config.codecKeyring);
    const decoded: string[] = [];
    const walk = async (node: unknown): Promise<void> => {
      if (Array.isArray(node)) for (const item of node) await walk(item);
      else if (node && typeof node === 'object') {
        const record = node as Record<string, unknown>;
        if (record.metadata && record.data) {
          const [payload] = await codec.decode([record as never]);
          decoded.push(Buffer.from(payload!.data ?? []).toString('utf8'));
        } else for (const value of Object.values(record)) await walk(value);
      }
    };
    await walk(history);
    expect(decoded.length).toBeGreaterThan(3);
    for (const secret of secrets) {
      expect(statusText).not.toContain(secret);
      expect(raw.includes(secret)).toBe(false);
      expect(decoded.join('\n')).not.toContain(secret);
    }
    // Nor does the database hold the token in clear.
    const row = await stack.db('channel_integrations').where({ id: status.integration.id }).first();
    expect(JSON.stringify(row)).not.toContain(token);
  });

  it('keeps businesses apart: status and disconnect only ever touch the caller’s integration', async () => {
    const alice = newBusinessId('alice');
    const bob = newBusinessId('bob');
    await connectThroughMeta(api, alice);
    const bobStatus = await getStatus(api, bob);
    expect(bobStatus).toEqual({
      connected: false,
      integration: null,
      accounts: [],
      connect: null,
      lastAbandonedSignup: null,
    });
    const res = await fetch(`${api}/api/integrations/whatsapp/disconnect`, {
      method: 'DELETE',
      headers: await authHeaders(bob),
    });
    expect(res.status).toBe(200);
    expect((await getStatus(api, alice)).connected).toBe(true);
  });

  it('disconnects: unsubscribes at Meta, deactivates, destroys the token; repeating is harmless', async () => {
    const businessId = newBusinessId();
    await connectThroughMeta(api, businessId);
    const before = await getStatus(api, businessId);
    const wabaId = before.accounts[0].wabaId;
    const since = lastSeq();

    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${api}/api/integrations/whatsapp/disconnect`, {
        method: 'DELETE',
        headers: await authHeaders(businessId),
      });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { connected: boolean; integration: { state: string }; accounts: unknown[] };
      expect(body.connected).toBe(false);
      expect(body.integration.state).toBe('inactive');
      expect(body.accounts).toEqual([]);
    }
    expect(callsSince(since, 'waba.unsubscribe')).toHaveLength(1);
    expect(stack.sandbox!.state.subscriptions(wabaId).subscribed).toBe(false);
    const row = await stack.db('channel_integrations').where({ id: before.integration.id }).first();
    expect(row!.credentials).toBeNull();
    expect(row!.is_active).toBe(false);
    expect(
      await stack.db('whatsapp_phone_numbers').where({ integration_id: before.integration.id, is_active: true }),
    ).toHaveLength(0);
  });
});
