// Per-business limits over real HTTP: 429 with Retry-After and the error shape after N requests,
// another business untouched, one budget across API processes; bounded OAuth states and signup
// events; no 500s when PostgreSQL is away.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi } from '../src/commands/api.js';
import { loadConfig } from '../src/config.js';
import { createDb } from '../src/db.js';
import { newBusinessId } from './helpers/factories.js';
import { authHeaders, tokenFor } from './helpers/jwt.js';
import { startStack, type Stack } from './helpers/stack.js';

const LIMITS = {
  RATE_LIMIT_CONNECT: '3/1m',
  RATE_LIMIT_EMBEDDED_SIGNUP: '2/1m',
  RATE_LIMIT_MESSAGES: '5/1m',
  RATE_LIMIT_ERASURES: '2/1m',
  RATE_LIMIT_READS: '9/1m',
  RATE_LIMIT_WRITES: '9/1m',
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

  /** One request of a route, as the given business (an agent, so role checks pass). */
  type Call = (apiUrl: string, businessId: string) => Promise<Response>;
  const call =
    (method: string, path: string, body?: unknown): Call =>
    async (apiUrl, businessId) =>
      fetch(`${apiUrl}/api/integrations/whatsapp${path}`, {
        method,
        headers: {
          authorization: `Bearer ${await tokenFor(businessId, { claims: { sub: 'agent-1', role: ['agent'] } })}`,
          'content-type': 'application/json',
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });

  // Each route with what a business without an integration gets (nothing of these ids exists).
  const reads: Array<[string, Call, number]> = [
    ['conversations', call('GET', '/conversations'), 200],
    ['a conversation', call('GET', '/conversations/1'), 404],
    ['messages', call('GET', '/messages'), 200],
    ['a message', call('GET', '/messages/1'), 404],
    ['templates', call('GET', '/templates'), 200],
    ['a media', call('GET', '/media/1'), 404],
    ['status', call('GET', '/status'), 200],
    ['settings', call('GET', '/settings'), 404],
    ['an erasure', call('GET', '/erasures/1'), 404],
  ];
  const writes: Array<[string, Call, number]> = [
    ['a handoff', call('POST', '/conversations/1/handoff', {}), 404],
    ['a release', call('POST', '/conversations/1/release'), 404],
    ['a template', call('POST', '/templates', {}), 400],
    ['a template deletion', call('DELETE', '/templates/welcome'), 409],
    ['settings', call('PUT', '/settings', { autoReplyText: 42 }), 400],
    ['a disconnect', call('DELETE', '/disconnect'), 200],
    ['a registration', call('POST', '/numbers/1/registration'), 404],
    ['a PIN', call('PUT', '/numbers/1/pin', {}), 400],
    ['a generated PIN', call('POST', '/numbers/1/pin/generate'), 404],
  ];

  for (const [budget, routes] of [
    ['reads', reads],
    ['writes', writes],
  ] as const) {
    it(`counts every ${budget === 'reads' ? 'dashboard read' : 'dashboard write'} against one "${budget}" budget per business`, async () => {
      const businessId = newBusinessId();
      const served = async (id: string) => {
        const answered: Array<[string, number]> = [];
        for (const [name, route] of routes) answered.push([name, (await route(api, id)).status]);
        return answered;
      };
      const expected = routes.map(([name, , status]) => [name, status]);
      // The budget is 9: one request of each route spends it, so each of them counts...
      expect(await served(businessId)).toEqual(expected);
      // ...and each of them is refused once it is spent.
      for (const [, route] of routes) await expectRateLimited(await route(api, businessId));
      // Another business is served on every route.
      expect(await served(newBusinessId())).toEqual(expected);
    });
  }

  it('shares a budget between two API processes on one database', async () => {
    const config = loadConfig({ ...stack.env, PORT: '0' }, 'api');
    const db = createDb(config.databaseUrl, { poolMax: 2 });
    const second = await startApi(config, stack.log, { db, host: '127.0.0.1' });
    try {
      const businessId = newBusinessId();
      const [, read] = reads[0]!;
      const [, write] = writes[0]!;
      // Alternating between the two: neither alone has seen its limit when the budget runs out.
      for (let i = 0; i < 9; i++) expect((await read(i % 2 ? second.url : api, businessId)).status).toBe(200);
      await expectRateLimited(await read(second.url, businessId));
      await expectRateLimited(await read(api, businessId));
      for (let i = 0; i < 9; i++) expect((await write(i % 2 ? api : second.url, businessId)).status).toBe(404);
      await expectRateLimited(await write(api, businessId));
      await expectRateLimited(await write(second.url, businessId));
      // The other budgets of the business, and the same budget of another business, are untouched.
      expect((await connect(businessId)).status).toBe(200);
      expect((await read(second.url, newBusinessId())).status).toBe(200);
    } finally {
      await second.close();
      await db.destroy();
    }
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
