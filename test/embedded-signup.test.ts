// Embedded Signup in a popup: the dashboard posts the code the JS SDK returned, with the session's
// ids; abandoned sessions are forwarded for support.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SANDBOX_APP_ID } from '../src/config.js';
import { authHeaders } from './helpers/jwt.js';
import { newBusinessId } from './helpers/factories.js';
import { popupResult, submitDialog, type TestSandbox } from './helpers/sandbox.js';
import { startStack, TEST_SECRETS, type Stack } from './helpers/stack.js';

describe('Embedded Signup popup', () => {
  let stack: Stack;
  let sandbox: TestSandbox;
  beforeAll(async () => {
    stack = await startStack({ api: true, sandbox: true });
    sandbox = {
      ...stack.sandbox!,
      appId: SANDBOX_APP_ID,
      appSecret: TEST_SECRETS.META_APP_SECRET,
      graph: (path: string) => `${stack.sandbox!.url}/v25.0/${path}`,
    };
  });
  afterAll(() => stack?.close());

  /** What the popup gives the dashboard: the SDK's code and the WA_EMBEDDED_SIGNUP session event. */
  async function popup(choice: { decision: 'approve' | 'deny'; account?: string } = { decision: 'approve' }) {
    const res = await submitDialog(
      sandbox,
      { configId: '100000000000002', display: 'popup', origin: stack.api!.url },
      choice,
    );
    const result = popupResult(await res.text());
    const code = (result.response.authResponse as { code?: string } | null)?.code;
    return { code, session: result.sessionInfo as { event: string; data: Record<string, string> } };
  }
  const post = async (businessId: string, path: string, body: unknown) =>
    fetch(`${stack.api!.url}/api/integrations/whatsapp/${path}`, {
      method: 'POST',
      headers: { ...(await authHeaders(businessId)), 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const exchanges = (since: number) => stack.sandbox!.state.calls({ since, operation: 'oauth.code_exchange' });

  it('connects with the popup code, and the same code posted twice exchanges once', async () => {
    const businessId = newBusinessId();
    const since = stack.sandbox!.state.calls().at(-1)?.seq ?? 0;
    const { code, session } = await popup();
    expect(session.event).toBe('FINISH');
    const body = { code, wabaId: session.data.waba_id, phoneNumberId: session.data.phone_number_id };
    const first = await post(businessId, 'embedded-signup', body);
    expect(first.status).toBe(200);
    const status = (await first.json()) as {
      connected: boolean;
      integration: { tokenHealth: { expiresAt: string | null } };
      accounts: Array<{ wabaId: string; phoneNumbers: unknown[] }>;
    };
    expect(status.connected).toBe(true);
    expect(status.accounts[0]!.wabaId).toBe(session.data.waba_id);
    // Embedded Signup business tokens never expire.
    expect(status.integration.tokenHealth.expiresAt).toBeNull();

    const again = await post(businessId, 'embedded-signup', body);
    expect(again.status).toBe(200);
    expect(exchanges(since)).toHaveLength(1);
    expect(stack.sandbox!.state.calls({ since, operation: 'oauth.fb_exchange' })).toHaveLength(0);
  });

  it('refuses session ids the token cannot see, persisting nothing', async () => {
    const businessId = newBusinessId();
    const other = stack.sandbox!.state.createAccount();
    const { code } = await popup();
    const res = await post(businessId, 'embedded-signup', { code, wabaId: other.wabaId });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('permission_denied');
    expect(await stack.db('channel_integrations').where({ business_id: businessId })).toHaveLength(0);
  });

  it('shows the last abandoned session in status', async () => {
    const businessId = newBusinessId();
    const { code, session } = await popup({ decision: 'deny' });
    expect(code).toBeUndefined();
    expect(session.event).toBe('CANCEL');
    expect((await post(businessId, 'embedded-signup/events', session)).status).toBe(204);
    let status = (await (
      await fetch(`${stack.api!.url}/api/integrations/whatsapp/status`, { headers: await authHeaders(businessId) })
    ).json()) as {
      lastAbandonedSignup: Record<string, unknown>;
    };
    expect(status.lastAbandonedSignup).toMatchObject({
      event: 'CANCEL',
      step: session.data.current_step,
      at: expect.any(String),
    });

    const error = {
      type: 'WA_EMBEDDED_SIGNUP',
      event: 'ERROR',
      data: { error_message: 'Phone number already registered', error_code: 2388001, session_id: 'sess-1' },
    };
    expect((await post(businessId, 'embedded-signup/events', error)).status).toBe(204);
    status = (await (
      await fetch(`${stack.api!.url}/api/integrations/whatsapp/status`, { headers: await authHeaders(businessId) })
    ).json()) as typeof status;
    expect(status.lastAbandonedSignup).toMatchObject({
      event: 'ERROR',
      errorMessage: 'Phone number already registered',
      errorCode: '2388001',
    });
  });

  it('validates its input and requires the dashboard token', async () => {
    const businessId = newBusinessId();
    expect((await post(businessId, 'embedded-signup', {})).status).toBe(400);
    expect((await post(businessId, 'embedded-signup', { code: 'x', wabaId: 'not-digits' })).status).toBe(400);
    expect((await post(businessId, 'embedded-signup/events', { event: 'EXPLODED' })).status).toBe(400);
    const res = await fetch(`${stack.api!.url}/api/integrations/whatsapp/embedded-signup`, {
      method: 'POST',
      body: '{"code":"x"}',
    });
    expect(res.status).toBe(401);
  });

  it('answers code_expired for a popup code older than its 30 seconds', async () => {
    const businessId = newBusinessId();
    const { code } = await popup();
    stack.sandbox!.state.advanceClock(31_000);
    const res = await post(businessId, 'embedded-signup', { code });
    expect(res.status).toBe(410);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('code_expired');
  });
});
