// Number registration over real HTTP, Temporal and PostgreSQL against the sandbox: the decision
// table, PINs the business supplies or generates, Meta's 133005 and 133016, and our own budget.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REGISTRATION_ERRORS } from '../src/errors.js';
import { decideRegistration, registrationTableMarkdown } from '../src/meta/registration.js';
import { connectNewNumber, connectThroughMeta, getStatus } from './helpers/meta-flow.js';
import { authHeaders } from './helpers/jwt.js';
import { newBusinessId } from './helpers/factories.js';
import { startStack, type Stack } from './helpers/stack.js';

describe('registration decision table', () => {
  const facts = (over: Partial<Parameters<typeof decideRegistration>[0]>) => ({
    platformType: 'NOT_APPLICABLE',
    status: 'PENDING',
    codeVerificationStatus: 'VERIFIED',
    isOnBizApp: false,
    ...over,
  });

  it.each([
    [{}, 'register'],
    [{ platformType: null, status: null, codeVerificationStatus: null }, 'register'],
    [{ platformType: 'CLOUD_API', status: 'CONNECTED' }, 'registered'],
    [{ platformType: 'CLOUD_API', status: 'FLAGGED' }, 'registered'],
    [{ platformType: 'CLOUD_API', status: 'DISCONNECTED' }, 'register'],
    [{ platformType: 'CLOUD_API', status: 'CONNECTED', isOnBizApp: true }, 'coexistence'],
    [{ isOnBizApp: true }, 'coexistence'],
    [{ status: 'BANNED' }, 'blocked'],
    [{ platformType: 'CLOUD_API', status: 'DELETED' }, 'blocked'],
    [{ platformType: 'ON_PREMISE', status: 'CONNECTED' }, 'blocked'],
    [{ codeVerificationStatus: 'NOT_VERIFIED' }, 'needs_verification'],
    [{ codeVerificationStatus: 'EXPIRED' }, 'needs_verification'],
    [{ platformType: 'CLOUD_API', status: 'CONNECTED', codeVerificationStatus: 'EXPIRED' }, 'registered'],
  ] as const)('decides %j as %s', (over, decision) => {
    expect(decideRegistration(facts(over)).decision).toBe(decision);
  });

  it('is the table README shows', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    expect(readme).toContain(registrationTableMarkdown());
  });
});

describe('number registration', () => {
  let stack: Stack;
  let api: string;
  const logLines: string[] = [];

  beforeAll(async () => {
    stack = await startStack({ api: true, sandbox: true, logLines, env: { CALLBACK_WAIT_MS: '5000' } });
    api = stack.api!.url;
  });
  afterAll(() => stack?.close());

  const sandbox = () => stack.sandbox!.state;
  const registerCalls = (phoneNumberId: string) =>
    sandbox().calls({ operation: 'phone.register', objectId: phoneNumberId }).length;

  async function call(businessId: string, method: string, path: string, body?: unknown) {
    const res = await fetch(`${api}/api/integrations/whatsapp/numbers/${path}`, {
      method,
      headers: { ...(await authHeaders(businessId)), 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, headers: res.headers, text: await res.text() };
  }
  const json = (answer: { text: string }) => JSON.parse(answer.text);

  async function registrationOf(businessId: string, phoneNumberId: string) {
    const status = await getStatus(api, businessId);
    const numbers = status.accounts.flatMap((a: any) => a.phoneNumbers);
    return numbers.find((n: any) => n.phoneNumberId === phoneNumberId).registration;
  }

  /** A new business connected with a new account of unregistered numbers; setup runs before the connect. */
  async function connectUnregistered(setup: (phoneNumberIds: string[]) => void = () => undefined) {
    const businessId = newBusinessId('reg');
    const account = sandbox().createAccount({ registered: false });
    setup(account.phoneNumberIds);
    await connectThroughMeta(api, businessId, { decision: 'approve', account: account.wabaId });
    await expect.poll(async () => (await getStatus(api, businessId)).connected, { timeout: 30_000 }).toBe(true);
    return { businessId, wabaId: account.wabaId, phoneNumberIds: account.phoneNumberIds };
  }

  it('connects a number without a PIN and asks for one; with the PIN a retry registers it', async () => {
    const { businessId, phoneNumberIds } = await connectUnregistered();
    const [first] = phoneNumberIds as [string];
    expect(await registrationOf(businessId, first)).toEqual({
      state: 'needs_pin',
      code: null,
      message: null,
      metaCode: null,
      pinSet: false,
      attemptsLeft: 10,
      retryAfter: null,
    });
    expect(registerCalls(first)).toBe(0);

    const refused = await call(businessId, 'POST', `${first}/registration`);
    expect(refused.status).toBe(409);
    expect(json(refused).error.code).toBe('needs_pin');

    const supplied = await call(businessId, 'PUT', `${first}/pin`, { pin: '424242' });
    expect(supplied.status).toBe(200);
    expect(json(supplied).registration).toMatchObject({ state: 'ready', pinSet: true });
    expect(supplied.text).not.toContain('424242');

    const retried = await call(businessId, 'POST', `${first}/registration`);
    expect(retried.status).toBe(202);
    expect(json(retried).registration.state).toBe('pending');
    await expect
      .poll(async () => (await registrationOf(businessId, first)).state, { timeout: 30_000 })
      .toBe('registered');
    expect(await registrationOf(businessId, first)).toMatchObject({ code: null, pinSet: true, attemptsLeft: 9 });
    expect(registerCalls(first)).toBe(1);
    expect(sandbox().number(first)).toMatchObject({ platformType: 'CLOUD_API', twoStepPin: '424242' });
    // The workflow carries our row id, never the phone number id or the PIN.
    const row = await stack.db('whatsapp_phone_numbers').where({ phone_number_id: first }).first();
    const history = await stack.client.workflow.getHandle(`register-number/${row!.id}`).fetchHistory();
    expect(JSON.stringify(history)).not.toContain('424242');
    expect(row!.registration_pin).not.toContain('424242');

    const again = await call(businessId, 'POST', `${first}/registration`);
    expect(again.status).toBe(409);
    expect(json(again).error.code).toBe('registration_not_needed');
  });

  it('records a wrong PIN as 133005 without failing a connect, and stops calling Meta once the budget is spent', async () => {
    const { businessId, wabaId, phoneNumberIds } = await connectUnregistered((ids) =>
      sandbox().setNumberFacts(ids[0]!, { twoStepPin: '111111' }),
    );
    const [number] = phoneNumberIds as [string];
    await call(businessId, 'PUT', `${number}/pin`, { pin: '222222' });
    expect((await call(businessId, 'POST', `${number}/registration`)).status).toBe(202);
    await expect.poll(async () => (await registrationOf(businessId, number)).state, { timeout: 30_000 }).toBe('failed');
    const failed = await registrationOf(businessId, number);
    expect(failed).toMatchObject({
      code: 'pin_mismatch',
      message: REGISTRATION_ERRORS.pin_mismatch,
      metaCode: 133005,
      attemptsLeft: 9,
    });

    // Connecting again registers the number (its PIN is known): Meta refuses, the connect succeeds.
    await connectThroughMeta(api, businessId, { decision: 'approve', account: wabaId });
    await expect.poll(async () => (await registrationOf(businessId, number)).attemptsLeft, { timeout: 30_000 }).toBe(8);
    const status = await getStatus(api, businessId);
    expect(status.connected).toBe(true);
    expect(status.connect).toBeNull();
    expect(await registrationOf(businessId, number)).toMatchObject({ state: 'failed', code: 'pin_mismatch' });
    expect(registerCalls(number)).toBe(2);

    // Eight more calls in the window (as earlier retries would have made): nothing is left.
    await stack
      .db('phone_number_registration_attempts')
      .insert(Array.from({ length: 8 }, () => ({ phone_number_id: number, attempted_at: new Date() })));
    const before = registerCalls(number);
    const spent = await call(businessId, 'POST', `${number}/registration`);
    expect(spent.status).toBe(429);
    expect(json(spent).error.code).toBe('registration_budget_spent');
    expect(Number(spent.headers.get('retry-after'))).toBeGreaterThan(71 * 3600);
    expect(registerCalls(number)).toBe(before);
    const view = await registrationOf(businessId, number);
    expect(view.attemptsLeft).toBe(0);
    expect(new Date(view.retryAfter).getTime()).toBeGreaterThan(Date.now() + 71 * 3_600_000);
  });

  it('stops for a whole window when Meta answers 133016', async () => {
    const { businessId, phoneNumberIds } = await connectUnregistered();
    const [number] = phoneNumberIds as [string];
    // Calls made elsewhere (another platform, the business itself) spent Meta's limit.
    sandbox().number(number).registrationCalls = Array.from({ length: 10 }, () => sandbox().now());
    await call(businessId, 'PUT', `${number}/pin`, { pin: '313131' });
    expect((await call(businessId, 'POST', `${number}/registration`)).status).toBe(202);
    await expect.poll(async () => (await registrationOf(businessId, number)).state, { timeout: 30_000 }).toBe('failed');
    const limited = await registrationOf(businessId, number);
    expect(limited).toMatchObject({ code: 'registration_rate_limited', metaCode: 133016, attemptsLeft: 0 });
    expect(new Date(limited.retryAfter).getTime()).toBeGreaterThan(Date.now() + 71 * 3_600_000);
    const before = registerCalls(number);
    const refused = await call(businessId, 'POST', `${number}/registration`);
    expect(refused.status).toBe(429);
    expect(json(refused).error.code).toBe('registration_rate_limited');
    expect(registerCalls(number)).toBe(before);
  });

  it('shows a generated PIN once, registers with it, and resets it at Meta', async () => {
    const { businessId, phoneNumberIds } = await connectUnregistered();
    const [number] = phoneNumberIds as [string];
    const generated = await call(businessId, 'POST', `${number}/pin/generate`);
    expect(generated.status).toBe(200);
    const { pin, registration } = json(generated);
    expect(pin).toMatch(/^\d{6}$/);
    expect(registration).toMatchObject({ state: 'ready', pinSet: true });
    expect(JSON.stringify(await getStatus(api, businessId))).not.toContain(pin);

    expect((await call(businessId, 'POST', `${number}/registration`)).status).toBe(202);
    await expect
      .poll(async () => (await registrationOf(businessId, number)).state, { timeout: 30_000 })
      .toBe('registered');
    expect(sandbox().number(number).twoStepPin).toBe(pin);

    const reset = json(await call(businessId, 'POST', `${number}/pin/generate`));
    expect(reset.pin).toMatch(/^\d{6}$/);
    expect(sandbox().calls({ operation: 'phone.two_step', objectId: number })).toHaveLength(1);
    expect(sandbox().number(number).twoStepPin).toBe(reset.pin);
    const status = JSON.stringify(await getStatus(api, businessId));
    for (const secret of [pin, reset.pin]) {
      expect(status).not.toContain(secret);
      expect(logLines.some((line) => line.includes(secret))).toBe(false);
    }
  });

  it('never registers a coexistence number', async () => {
    const { businessId, phoneNumberIds } = await connectUnregistered((ids) =>
      ids.forEach((id) => sandbox().setNumberFacts(id, { isOnBizApp: true })),
    );
    const [number] = phoneNumberIds as [string];
    expect(await registrationOf(businessId, number)).toMatchObject({ state: 'not_needed', code: null });
    await call(businessId, 'PUT', `${number}/pin`, { pin: '515151' }).then((r) => expect(r.status).toBe(409));
    const refused = await call(businessId, 'POST', `${number}/registration`);
    expect(refused.status).toBe(409);
    expect(json(refused).error.code).toBe('coexistence');
    expect((await call(businessId, 'POST', `${number}/pin/generate`)).status).toBe(409);
    expect(registerCalls(number)).toBe(0);
  });

  it('flags a number for registration when a reply is refused with 133010', async () => {
    const { businessId, phoneNumberId } = await connectNewNumber(api);
    expect((await registrationOf(businessId, phoneNumberId)).state).toBe('registered');
    // Meta lost the registration (deregistered elsewhere): the reply's send answers 133010.
    sandbox().setRegistered(phoneNumberId, false);
    sandbox().sendCustomerMessage({ phoneNumberId, from: '4400077788', type: 'text', text: 'hello?' });
    await expect
      .poll(async () => (await registrationOf(businessId, phoneNumberId)).code, { timeout: 30_000 })
      .toBe('number_not_registered');
    expect(await registrationOf(businessId, phoneNumberId)).toMatchObject({
      state: 'failed',
      metaCode: 133010,
      message: REGISTRATION_ERRORS.number_not_registered,
    });
    const retry = await call(businessId, 'POST', `${phoneNumberId}/registration`);
    expect(retry.status).toBe(409);
    expect(json(retry).error.code).toBe('needs_pin');
  });

  it('rejects a PIN that is not six digits', async () => {
    const { businessId, phoneNumberIds } = await connectUnregistered();
    const answer = await call(businessId, 'PUT', `${phoneNumberIds[0]}/pin`, { pin: '12345' });
    expect(answer.status).toBe(400);
    expect(json(answer).error.code).toBe('invalid_request');
  });
});
