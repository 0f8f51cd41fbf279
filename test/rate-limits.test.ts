// Per-business limits over real HTTP: 429 with Retry-After and the error shape after N requests,
// another business untouched; bounded OAuth states and signup events; no 500s when PostgreSQL is away.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi } from '../src/commands/api.js';
import { loadConfig } from '../src/config.js';
import { createDb } from '../src/db.js';
import { newBusinessId } from './helpers/factories.js';
import { authHeaders } from './helpers/jwt.js';
import { startStack, type Stack } from './helpers/stack.js';

const LIMITS = {
  RATE_LIMIT_CONNECT: '3/1m',
  RATE_LIMIT_EMBEDDED_SIGNUP: '2/1m',
  RATE_LIMIT_MESSAGES: '5/1m',
  RATE_LIMIT_ERASURES: '2/1m',
  OAUTH_STATES_PER_BUSINESS: '2',
  SIGNUP_EVENTS_PER_HOUR: '3',
};

async function expectRateLimited(response: Response): Promise<void> {
  expect(response.status).toBe(429);
  const retryAfter = Number(response.headers.get('retry-after'));
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(60);
  const body = (await response.json()) as { error: { code: string; message: string } };
  expect(body.error.code).toBe('rate_limited');
  expect(body.error.message).toMatch(/try again in \d+ s/);
}

describe('rate limits', () => {
  let stack: Stack;
  let api: string;
  beforeAll(async () => {
    stack = await startStack({ api: true, worker: false, env: LIMITS });
    api = stack.api!.url;
  });
  afterAll(() => stack?.close());

  const connect = async (businessId: string) =>
    fetch(`${api}/api/integrations/whatsapp/connect`, {
      headers: { ...(await authHeaders(businessId)), accept: 'application/json' },
    });

  it('answers 429 with Retry-After after N connects of a business, and not for another business', async () => {
    const noisy = newBusinessId();
    for (let i = 0; i < 3; i++) expect((await connect(noisy)).status).toBe(200);
    await expectRateLimited(await connect(noisy));
    await expectRateLimited(await connect(noisy));
    expect((await connect(newBusinessId())).status).toBe(200);
  });

  it('counts single and batch sends against one budget per business', async () => {
    const sender = newBusinessId();
    const headers = { ...(await authHeaders(sender)), 'content-type': 'application/json' };
    const post = (path: string, body: unknown) =>
      fetch(`${api}/api/integrations/whatsapp/messages${path}`, {
        method: 'POST',
        headers,
        body: JSON.stringify(body),
      });
    // Refused requests count too: the budget is of requests, whatever their outcome.
    for (let i = 0; i < 3; i++) expect((await post('', { to: '1', type: 'text' })).status).toBe(400);
    for (let i = 0; i < 2; i++) expect((await post('/batch', { messages: [] })).status).toBe(400);
    await expectRateLimited(await post('', { to: '1', type: 'text' }));
    await expectRateLimited(await post('/batch', { messages: [] }));
    const other = await fetch(`${api}/api/integrations/whatsapp/messages`, {
      method: 'POST',
      headers: { ...(await authHeaders(newBusinessId())), 'content-type': 'application/json' },
      body: '{}',
    });
    expect(other.status).toBe(400);
  });

  it('limits popup codes per business', async () => {
    const businessId = newBusinessId();
    const post = async (id: string) =>
      fetch(`${api}/api/integrations/whatsapp/embedded-signup`, {
        method: 'POST',
        headers: { ...(await authHeaders(id)), 'content-type': 'application/json' },
        body: JSON.stringify({}),
      });
    for (let i = 0; i < 2; i++) expect((await post(businessId)).status).toBe(400);
    await expectRateLimited(await post(businessId));
    expect((await post(newBusinessId())).status).toBe(400);
  });

  it('limits erasure requests per business', async () => {
    const post = async (id: string) =>
      fetch(`${api}/api/integrations/whatsapp/erasures`, {
        method: 'POST',
        headers: { ...(await authHeaders(id)), 'content-type': 'application/json' },
        body: JSON.stringify({}),
      });
    const businessId = newBusinessId();
    for (let i = 0; i < 2; i++) expect((await post(businessId)).status).toBe(400);
    await expectRateLimited(await post(businessId));
    expect((await post(newBusinessId())).status).toBe(400);
  });

  it('keeps at most OAUTH_STATES_PER_BUSINESS unused connect tickets and states: the oldest go', async () => {
    const businessId = newBusinessId();
    const urls: string[] = [];
    for (let i = 0; i < 3; i++) urls.push(((await (await connect(businessId)).json()) as { url: string }).url);
    const live = async (table: 'connect_tickets' | 'oauth_states') =>
      Number(
        (
          await stack
            .db(table)
            .where({ business_id: businessId })
            .whereNull('used_at')
            .andWhere('expires_at', '>', stack.db.fn.now())
            .count<{ count: string }[]>('* as count')
        )[0]!.count,
      );
    expect(await live('connect_tickets')).toBe(2);
    // The evicted (oldest) ticket leads to invalid_state; the newer ones to Meta's dialog.
    const open = (url: string) => fetch(url, { redirect: 'manual' }).then((r) => r.headers.get('location') ?? '');
    expect(await open(urls[0]!)).toContain('invalid_state');
    expect(await open(urls[1]!)).toContain('/dialog/oauth');
    expect(await open(urls[2]!)).toContain('/dialog/oauth');
    expect(await live('oauth_states')).toBe(2);
  });

  it('records at most SIGNUP_EVENTS_PER_HOUR signup events per business, then answers 429 for the hour', async () => {
    const businessId = newBusinessId();
    const send = async (id: string) =>
      fetch(`${api}/api/integrations/whatsapp/embedded-signup/events`, {
        method: 'POST',
        headers: { ...(await authHeaders(id)), 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'WA_EMBEDDED_SIGNUP', event: 'CANCEL', data: { current_step: 'PHONE_NUMBER' } }),
      });
    for (let i = 0; i < 3; i++) expect((await send(businessId)).status).toBe(204);
    const refused = await send(businessId);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(3000);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('rate_limited');
    expect(
      await stack.db('signup_events').where({ business_id: businessId }).count<{ count: string }[]>('* as count'),
    ).toEqual([{ count: 3 }]);
    expect((await send(newBusinessId())).status).toBe(204);
  });

  it('counts in memory when PostgreSQL does not answer, instead of failing requests', async () => {
    const config = loadConfig({ ...stack.env, DATABASE_URL: 'postgres://postgres@127.0.0.1:9/none', PORT: '0' }, 'api');
    const deadDb = createDb(config.databaseUrl, { poolMax: 2 });
    const offline = await startApi(config, stack.log, { db: deadDb, host: '127.0.0.1' });
    try {
      const headers = { ...(await authHeaders(newBusinessId())), 'content-type': 'application/json' };
      // No Idempotency-Key: refused before the handler needs the database.
      const post = () =>
        fetch(`${offline.url}/api/integrations/whatsapp/messages`, { method: 'POST', headers, body: '{}' });
      for (let i = 0; i < 5; i++) expect((await post()).status).toBe(400);
      await expectRateLimited(await post());
    } finally {
      await offline.close();
      await deadDb.destroy();
    }
  });
});
