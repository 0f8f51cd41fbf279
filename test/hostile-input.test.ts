// Hostile input: property-based tests of the webhook endpoint (random and mutated bodies, wrong and
// truncated signatures, deep nesting, huge arrays, wrong types, unicode), and hostile JWTs.
import { createHmac, generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { SignJWT, UnsecuredJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signBody } from '../src/meta/signature.js';
import { newBusinessId } from './helpers/factories.js';
import { startStack, TEST_SECRETS, type Stack } from './helpers/stack.js';
import { messageItem, messagesWebhook, postWebhook } from './helpers/webhooks.js';

describe('hostile input', () => {
  let stack: Stack;
  let api: string;
  beforeAll(async () => {
    stack = await startStack({ api: true, sandbox: true });
    api = stack.api!.url;
  });
  afterAll(() => stack?.close());

  /** Workflow starts the API made so far, read from its own metrics. */
  async function starts(): Promise<number> {
    const text = await (await fetch(`${api}/metrics`)).text();
    return [...text.matchAll(/^waconnect_workflow_starts_total\{[^}]*\} (\d+)/gm)].reduce(
      (n, m) => n + Number(m[1]),
      0,
    );
  }

  const post = (raw: string, signature: string | null) =>
    fetch(`${api}/api/webhooks/whatsapp`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(signature === null ? {} : { 'x-hub-signature-256': signature }),
      },
      body: raw,
    });

  // Anything JSON can hold, Meta-shaped or not, with unicode edge cases in strings.
  const text = fc.string({
    unit: fc.constantFrom('a', 'é', '€', '𝄞', '\u0000', '\u202e', '\ud800', '"', '\\', '\n', '1', ' '),
  });
  const jsonish = fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: 'small' },
      fc.constant(null),
      fc.boolean(),
      fc.double(),
      fc.integer(),
      text,
      fc.array(tie('value'), { maxLength: 5 }),
      fc.dictionary(text, tie('value'), { maxKeys: 5 }),
    ),
  })).value;
  const metaShaped = fc.record({
    object: fc.oneof(fc.constant('whatsapp_business_account'), jsonish),
    entry: fc.oneof(
      jsonish,
      fc.array(
        fc.record({
          id: fc.oneof(text, jsonish),
          changes: fc.oneof(
            jsonish,
            fc.array(
              fc.record({
                field: fc.oneof(fc.constantFrom('messages', 'account_update', 'statuses'), jsonish),
                value: fc.oneof(
                  jsonish,
                  fc.record({
                    metadata: jsonish,
                    messages: fc.array(jsonish, { maxLength: 3 }),
                    statuses: fc.array(jsonish, { maxLength: 3 }),
                  }),
                ),
              }),
              { maxLength: 3 },
            ),
          ),
        }),
        { maxLength: 3 },
      ),
    ),
  });

  it('starts nothing and never answers 5xx without a valid signature', async () => {
    const before = await starts();
    const signature = fc.oneof(
      fc.constant(null),
      fc.string(),
      fc.string().map((s) => `sha256=${s}`),
      fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => `sha256=${Buffer.from(b).toString('hex')}`),
      fc.constantFrom('', 'sha256=', 'sha1=abc', 'SHA256=00'),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          metaShaped.map((b) => JSON.stringify(b)),
          fc.string(),
          fc.uint8Array({ maxLength: 2000 }).map((b) => Buffer.from(b).toString('latin1')),
        ),
        signature,
        async (raw, sig) => {
          const res = await post(raw, sig);
          expect(res.status).toBe(401);
        },
      ),
      { numRuns: 150 },
    );
    // Truncated and tampered versions of a real signature over a real message.
    const body = JSON.stringify(messagesWebhook('1', { messages: [messageItem({ phoneNumberId: '1', from: '2' })] }));
    const good = signBody(body, TEST_SECRETS.META_APP_SECRET);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: good.length - 1 }), async (cut) => {
        expect((await post(body, good.slice(0, cut))).status).toBe(401);
      }),
      { numRuns: 40 },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: body.length - 1 }),
        fc.string({ minLength: 1, maxLength: 1 }),
        async (at, c) => {
          const mutated = body.slice(0, at) + c + body.slice(at + 1);
          fc.pre(mutated !== body);
          expect((await post(mutated, good)).status).toBe(401);
        },
      ),
      { numRuns: 40 },
    );
    expect(await starts()).toBe(before);
  });

  it('never answers 5xx to signed bodies of any shape', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          metaShaped.map((b) => JSON.stringify(b)),
          jsonish.map((b) => JSON.stringify(b) ?? 'null'),
          fc.string(),
        ),
        async (raw) => {
          const res = await post(raw, signBody(raw, TEST_SECRETS.META_APP_SECRET));
          expect([200, 400]).toContain(res.status);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('survives deep nesting, huge arrays and wrong types in every field', async () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    const deepRes = await post(deep, signBody(deep, TEST_SECRETS.META_APP_SECRET));
    expect(deepRes.status).toBe(400);

    const nestedMessage = JSON.stringify(
      messagesWebhook('1', {
        messages: [
          {
            ...messageItem({ phoneNumberId: '1', from: '2' }),
            extra: JSON.parse(`${'['.repeat(200)}${']'.repeat(200)}`),
          },
        ],
      }),
    );
    expect((await post(nestedMessage, signBody(nestedMessage, TEST_SECRETS.META_APP_SECRET))).status).toBe(400);

    const huge = JSON.stringify({
      object: 'whatsapp_business_account',
      entry: Array.from({ length: 200_000 }, () => 1),
    });
    expect((await post(huge, signBody(huge, TEST_SECRETS.META_APP_SECRET))).status).toBe(200);

    const wrongTypes = [
      {
        object: 'whatsapp_business_account',
        entry: [
          {
            id: 5,
            changes: [
              {
                field: 'messages',
                value: {
                  metadata: { phone_number_id: 7 },
                  messages: [{ from: 1, id: 2, timestamp: 'soon', type: [] }],
                },
              },
            ],
          },
        ],
      },
      { object: 'whatsapp_business_account', entry: [{ id: {}, changes: { field: 'messages' } }] },
      {
        object: 'whatsapp_business_account',
        entry: [
          {
            changes: [
              {
                field: 'messages',
                value: { metadata: { phone_number_id: 'x' }, messages: 'many', statuses: { id: 1 } },
              },
            ],
          },
        ],
      },
    ];
    for (const body of wrongTypes) expect((await postWebhook(api, body)).status).toBe(200);
  });
});

/** Every authenticated route, reads and writes, with a body a valid caller could send. */
const AUTHENTICATED_ROUTES: Array<[method: string, path: string, body?: unknown]> = [
  ['GET', 'status'],
  ['GET', 'connect'],
  ['DELETE', 'disconnect'],
  ['POST', 'embedded-signup', { code: 'x' }],
  ['POST', 'embedded-signup/events', { event: 'CANCEL', data: {} }],
  ['GET', 'settings'],
  ['PUT', 'settings', { autoReplyText: 'hi' }],
  ['GET', 'messages'],
  ['POST', 'messages', { to: '4917000000001', text: 'hi' }],
  ['POST', 'messages/batch', { messages: [] }],
  ['GET', 'messages/1'],
  ['POST', 'numbers/123/registration'],
  ['PUT', 'numbers/123/pin', { pin: '123456' }],
  ['POST', 'numbers/123/pin/generate'],
  ['GET', 'templates'],
  ['POST', 'templates', { name: 'x', language: 'en_US', category: 'UTILITY', components: [] }],
  ['DELETE', 'templates/x'],
  ['POST', 'erasures', { phone: '4917000000001' }],
  ['GET', 'erasures/00000000-0000-0000-0000-000000000000'],
  ['GET', 'conversations'],
  ['GET', 'conversations/1'],
  ['POST', 'conversations/1/handoff', { note: 'x' }],
  ['POST', 'conversations/1/release'],
  ['GET', 'media/1'],
];

describe('hostile JWTs', () => {
  let stack: Stack;
  const issuer = 'https://dashboard.test';
  const audience = 'waconnect-api';
  beforeAll(async () => {
    stack = await startStack({
      api: true,
      worker: false,
      env: { AUTH_JWT_ISSUER: issuer, AUTH_JWT_AUDIENCE: audience },
    });
  });
  afterAll(() => stack?.close());

  const secret = new TextEncoder().encode(TEST_SECRETS.AUTH_JWT_SECRET);
  const now = Math.floor(Date.now() / 1000);
  // Right issuer and audience unless a case says otherwise.
  const hs256 = (claims: Record<string, unknown>) =>
    new SignJWT({ iss: issuer, aud: audience, ...claims }).setProtectedHeader({ alg: 'HS256' });

  async function cases(): Promise<Record<string, string>> {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const header = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
    const claims = Buffer.from(JSON.stringify({ business_id: 'victim', exp: now + 600 })).toString('base64url');
    const hmacWithEmptyKey = createHmac('sha256', '').update(`${header}.${claims}`).digest('base64url');
    return {
      'alg none': new UnsecuredJWT({ business_id: 'victim' }).setExpirationTime('10m').encode(),
      'HS384 with the right secret': await new SignJWT({ business_id: 'victim' })
        .setProtectedHeader({ alg: 'HS384' })
        .setExpirationTime('10m')
        .sign(secret),
      RS256: await new SignJWT({ business_id: 'victim' })
        .setProtectedHeader({ alg: 'RS256' })
        .setExpirationTime('10m')
        .sign(privateKey),
      'wrong secret': await new SignJWT({ business_id: 'victim' })
        .setProtectedHeader({ alg: 'HS256' })
        .setExpirationTime('10m')
        .sign(new TextEncoder().encode('x'.repeat(40))),
      'empty key': `${header}.${claims}.${hmacWithEmptyKey}`,
      expired: await new SignJWT({ business_id: 'victim' })
        .setProtectedHeader({ alg: 'HS256' })
        .setExpirationTime(now - 60)
        .sign(secret),
      'not yet valid': await new SignJWT({ business_id: 'victim' })
        .setProtectedHeader({ alg: 'HS256' })
        .setNotBefore(now + 600)
        .setExpirationTime(now + 1200)
        .sign(secret),
      'no business claim': await new SignJWT({ sub: 'victim' })
        .setProtectedHeader({ alg: 'HS256' })
        .setExpirationTime('10m')
        .sign(secret),
      'business claim not a string': await new SignJWT({ business_id: { id: 'victim' } })
        .setProtectedHeader({ alg: 'HS256' })
        .setExpirationTime('10m')
        .sign(secret),
      'empty business claim': await new SignJWT({ business_id: '' })
        .setProtectedHeader({ alg: 'HS256' })
        .setExpirationTime('10m')
        .sign(secret),
      'no exp': await hs256({ business_id: 'victim' }).setIssuedAt().sign(secret),
      'no iat': await hs256({ business_id: 'victim' }).setExpirationTime('10m').sign(secret),
      'older than the maximum age': await hs256({ business_id: 'victim' })
        .setIssuedAt(now - 25 * 3600)
        .setExpirationTime('10m')
        .sign(secret),
      'NUL in the business id': await hs256({ business_id: 'victim\u0000' })
        .setIssuedAt()
        .setExpirationTime('10m')
        .sign(secret),
      'lone surrogate in the business id': await hs256({ business_id: 'victim\ud800' })
        .setIssuedAt()
        .setExpirationTime('10m')
        .sign(secret),
      'iat in the future': await hs256({ business_id: 'victim' })
        .setIssuedAt(now + 600)
        .setExpirationTime(now + 1200)
        .sign(secret),
      'foreign issuer': await hs256({ business_id: 'victim', iss: 'https://attacker.test' })
        .setIssuedAt()
        .setExpirationTime('10m')
        .sign(secret),
      'foreign audience': await hs256({ business_id: 'victim', aud: 'another-api' })
        .setIssuedAt()
        .setExpirationTime('10m')
        .sign(secret),
      'no issuer or audience': await new SignJWT({ business_id: 'victim' })
        .setProtectedHeader({ alg: 'HS256' })
        .setIssuedAt()
        .setExpirationTime('10m')
        .sign(secret),
      'over-long business id': await hs256({ business_id: `v${'x'.repeat(4000)}` })
        .setIssuedAt()
        .setExpirationTime('10m')
        .sign(secret),
      'newline in the business id': await hs256({ business_id: 'victim\nadmin' })
        .setIssuedAt()
        .setExpirationTime('10m')
        .sign(secret),
      'escape sequence in the business id': await hs256({ business_id: 'victim\u001b[2J' })
        .setIssuedAt()
        .setExpirationTime('10m')
        .sign(secret),
      'exp as a string': await hs256({ business_id: 'victim', exp: String(now + 600), iat: now }).sign(secret),
      garbage: 'not.a.jwt',
    };
  }

  it('answers each with 401 and the stable code unauthorized', async () => {
    for (const [name, token] of Object.entries(await cases())) {
      for (const [method, path, body] of AUTHENTICATED_ROUTES) {
        const res = await fetch(`${stack.api!.url}/api/integrations/whatsapp/${path}`, {
          method,
          headers: {
            authorization: `Bearer ${token}`,
            'content-type': 'application/json',
            'idempotency-key': 'hostile',
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          redirect: 'manual',
        });
        expect(res.status, `${name} on ${method} ${path}`).toBe(401);
        const answer = (await res.json()) as { error: { code: string } };
        expect(answer.error.code, `${name} on ${method} ${path}`).toBe('unauthorized');
      }
    }
    // Nothing was written by any of them.
    for (const table of ['erasures', 'connect_tickets', 'signup_events'] as const)
      expect(await stack.db(table).where({ business_id: 'victim' }), table).toHaveLength(0);
    const business = newBusinessId();
    const good = await hs256({ business_id: business }).setIssuedAt().setExpirationTime('10m').sign(secret);
    expect(
      (
        await fetch(`${stack.api!.url}/api/integrations/whatsapp/status`, {
          headers: { authorization: `Bearer ${good}` },
        })
      ).status,
    ).toBe(200);
  });
});
