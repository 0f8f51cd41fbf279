// Meta's data-deletion callback: a signed_request Meta signs with the app secret names the Facebook
// user who connected; every business that user connected is erased, and the answer is Meta's
// documented {url, confirmation_code}, the URL a status page showing only the request's state.
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signRequest } from '../src/meta/signed-request.js';
import { dataDeletionRequest } from '@waconnect/meta-sandbox';
import { customerWritesIn, dumpDatabase, until } from './helpers/erasure.js';
import { connectedIntegration } from './helpers/connected.js';
import { getStatus } from './helpers/meta-flow.js';
import { startStack, TEST_SECRETS, type Stack } from './helpers/stack.js';

describe('data-deletion callback', () => {
  let stack: Stack;
  let api: string;
  const callback = () => `${api}/api/meta/data-deletion`;
  const post = (body: URLSearchParams | string, type = 'application/x-www-form-urlencoded') =>
    fetch(callback(), { method: 'POST', headers: { 'content-type': type }, body });

  beforeAll(async () => {
    stack = await startStack({ api: true, sandbox: true, env: { CALLBACK_WAIT_MS: '3000' } });
    api = stack.api!.url;
  });
  afterAll(() => stack?.close());

  it('erases the businesses the user connected and answers a status URL with a confirmation code', async () => {
    const { businessId, integrationId, phoneNumberId } = await connectedIntegration(stack);
    const other = await connectedIntegration(stack);
    const customer = await customerWritesIn(stack, phoneNumberId);
    const kept = await customerWritesIn(stack, other.phoneNumberId);
    const userId = (await stack.db('channel_integrations').where({ id: integrationId }).first())!.meta_user_id!;
    expect(userId).toMatch(/^\d+$/);

    const res = await post(dataDeletionRequest(TEST_SECRETS.META_APP_SECRET, userId));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    const answer = (await res.json()) as { url: string; confirmation_code: string };
    expect(Object.keys(answer).sort()).toEqual(['confirmation_code', 'url']);
    expect(answer.confirmation_code).toMatch(/^[a-z0-9]+$/);
    expect(answer.url).toBe(`${stack.config.publicUrl}/api/meta/data-deletion/${answer.confirmation_code}`);

    const status = await until(async () => {
      const body = (await (await fetch(answer.url)).json()) as { state: string };
      return body.state === 'done' ? body : undefined;
    }, 'the deletion');
    expect(status).toMatchObject({ confirmationCode: answer.confirmation_code, state: 'done' });
    expect(JSON.stringify(status)).not.toContain(userId);
    const page = await fetch(answer.url, { headers: { accept: 'text/html' } });
    expect(await page.text()).toContain('Your data has been deleted.');

    expect(await stack.db('channel_integrations').where({ business_id: businessId })).toHaveLength(0);
    const dump = await dumpDatabase();
    for (const value of [customer.phone, customer.bsuid, customer.text, userId]) expect(dump).not.toContain(value);
    expect(dump).toContain(kept.text);
    expect(await stack.db('channel_integrations').where({ id: other.integrationId }).first()).toBeTruthy();
  });

  it('takes the request the sandbox posts as Meta does when the person who connected removes the app', async () => {
    const { businessId } = await connectedIntegration(stack);
    const wabaId = (await getStatus(api, businessId)).accounts[0].wabaId as string;
    const reply = await stack.sandbox!.state.requestDataDeletion(wabaId);
    expect(reply.status).toBe(200);
    const { url } = reply.body as { url: string; confirmation_code: string };
    await until(async () => ((await (await fetch(url)).json()) as { state: string }).state === 'done', 'the deletion');
    expect(await stack.db('channel_integrations').where({ business_id: businessId })).toHaveLength(0);
  });

  it('answers a code for a user it holds nothing about, done at once', async () => {
    const res = await post(dataDeletionRequest(TEST_SECRETS.META_APP_SECRET, '99999999999999999'));
    expect(res.status).toBe(200);
    const { url } = (await res.json()) as { url: string };
    expect(((await (await fetch(url)).json()) as { state: string }).state).toBe('done');
  });

  it('accepts a request signed with WHATSAPP_APP_SECRET when that is the secret set for the app', async () => {
    const own = await startStack({
      api: true,
      worker: false,
      env: { WHATSAPP_APP_SECRET: 'another-secret-of-the-whatsapp-app' },
    });
    try {
      const res = await fetch(`${own.api!.url}/api/meta/data-deletion`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: dataDeletionRequest('another-secret-of-the-whatsapp-app', '123456789'),
      });
      expect(res.status).toBe(200);
    } finally {
      await own.close();
    }
  });

  it.each([
    ['a wrong secret', () => dataDeletionRequest('not-the-app-secret', '123456789')],
    ['no signed_request', () => new URLSearchParams({ other: 'x' })],
    ['a malformed one', () => new URLSearchParams({ signed_request: 'not-a-signed-request' })],
    [
      'a payload that is not JSON',
      () => {
        const broken = Buffer.from('{not json').toString('base64url');
        const signature = createHmac('sha256', TEST_SECRETS.META_APP_SECRET).update(broken).digest('base64url');
        return new URLSearchParams({ signed_request: `${signature}.${broken}` });
      },
    ],
    [
      'another algorithm',
      () =>
        new URLSearchParams({
          signed_request: signRequest(TEST_SECRETS.META_APP_SECRET, { algorithm: 'HMAC-SHA1', user_id: '1234' }),
        }),
    ],
    [
      'no user_id',
      () =>
        new URLSearchParams({
          signed_request: signRequest(TEST_SECRETS.META_APP_SECRET, { algorithm: 'HMAC-SHA256', issued_at: 1 }),
        }),
    ],
  ])('refuses %s with 400 and erases nothing', async (_name, body) => {
    const requests = () => stack.db('data_deletion_requests').count<Array<{ count: string }>>('* as count');
    const before = await requests();
    const res = await post(body());
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_signed_request');
    const after = await requests();
    expect(Number(after[0]!.count)).toBe(Number(before[0]!.count));
  });

  it('answers 404 for an unknown confirmation code', async () => {
    const res = await fetch(`${callback()}/${'0'.repeat(24)}`);
    expect(res.status).toBe(404);
  });
});
