// Tenant JWTs and roles, over real HTTP on a tiny router: exp and iat required, a maximum age,
// iss/aud when configured, a minute of clock skew, business ids from a fixed alphabet, sandbox
// sessions only in sandbox mode, and requireRole('agent').
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Router from '@koa/router';
import { jwtVerify, SignJWT } from 'jose';
import Koa from 'koa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../src/config.js';
import { requireBusiness, requireRole, SANDBOX_SESSION_ISSUER, SANDBOX_SESSION_KID } from '../src/http/auth.js';
import { errorMiddleware } from '../src/http/errors.js';
import { TEST_SECRETS } from './helpers/secrets.js';
import { startStack, type Stack } from './helpers/stack.js';

const base = {
  NODE_ENV: 'test',
  DATABASE_URL: 'postgres://db/unused',
  META_GRAPH_API_URL: 'http://127.0.0.1:9',
  META_OAUTH_DIALOG_URL: 'http://127.0.0.1:9',
  ...TEST_SECRETS,
};

async function serve(config: Config): Promise<{ url: string; server: Server }> {
  const router = new Router();
  router.get('/me', requireBusiness(config), (ctx) => {
    ctx.body = ctx.state.auth;
  });
  router.get('/agent-only', requireBusiness(config), requireRole('agent'), (ctx) => {
    ctx.body = { ok: true };
  });
  const app = new Koa();
  app.use(errorMiddleware).use(router.routes());
  const handler = app.callback();
  const server = createServer((req, res) => void handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

const key = (secret: string) => new TextEncoder().encode(secret);
const now = () => Math.floor(Date.now() / 1000);

function tenantJwt(
  claims: Record<string, unknown>,
  options: { iat?: number | null; exp?: number | null; kid?: string } = {},
) {
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: 'HS256', ...(options.kid ? { kid: options.kid } : {}) });
  if (options.iat !== null) jwt.setIssuedAt(options.iat ?? now());
  if (options.exp !== null) jwt.setExpirationTime(options.exp ?? now() + 600);
  return jwt;
}

describe('tenant JWTs', () => {
  let plain: { url: string; server: Server };
  let strict: { url: string; server: Server };
  beforeAll(async () => {
    plain = await serve(
      loadConfig(
        {
          ...base,
          META_SANDBOX: 'false',
          META_APP_ID: '1',
          META_APP_SECRET: 'x',
          FRONTEND_URL: 'https://app.example.com',
        },
        'api',
      ),
    );
    strict = await serve(
      loadConfig(
        {
          ...base,
          META_SANDBOX: 'true',
          AUTH_JWT_ISSUER: 'https://app.example.com',
          AUTH_JWT_AUDIENCE: 'waconnect',
          AUTH_JWT_MAX_AGE: '1h',
        },
        'api',
      ),
    );
  });
  afterAll(() => {
    plain?.server.close();
    strict?.server.close();
  });

  const call = async (target: { url: string }, token: string, path = '/me') => {
    const res = await fetch(`${target.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
    return { status: res.status, body: (await res.json()) as any };
  };
  const tenantKey = key(TEST_SECRETS.AUTH_JWT_SECRET);

  it('accepts a token with exp and iat and exposes the business and its roles', async () => {
    const token = await tenantJwt({ business_id: 'acme.eu:shop-1_a', role: 'agent' }).sign(tenantKey);
    expect(await call(plain, token)).toEqual({
      status: 200,
      body: { businessId: 'acme.eu:shop-1_a', roles: ['agent'], subject: null },
    });
    const listed = await tenantJwt({ business_id: 'acme', role: ['viewer', 'agent', 42] }).sign(tenantKey);
    expect((await call(plain, listed)).body.roles).toEqual(['viewer', 'agent']);
  });

  it('refuses tokens without exp or iat, or older than the maximum age', async () => {
    for (const token of [
      await tenantJwt({ business_id: 'acme' }, { exp: null }).sign(tenantKey),
      await tenantJwt({ business_id: 'acme' }, { iat: null }).sign(tenantKey),
      await tenantJwt({ business_id: 'acme' }, { iat: now() - 24 * 3600 - 120 }).sign(tenantKey),
      await tenantJwt({ business_id: 'acme' }, { iat: now() + 600 }).sign(tenantKey),
    ]) {
      const { status, body } = await call(plain, token);
      expect(status).toBe(401);
      expect(body.error.code).toBe('unauthorized');
    }
  });

  it('allows one minute of clock skew, no more', async () => {
    expect(
      (await call(plain, await tenantJwt({ business_id: 'acme' }, { exp: now() - 30 }).sign(tenantKey))).status,
    ).toBe(200);
    expect(
      (await call(plain, await tenantJwt({ business_id: 'acme' }, { exp: now() - 90 }).sign(tenantKey))).status,
    ).toBe(401);
    expect(
      (await call(plain, await tenantJwt({ business_id: 'acme' }, { iat: now() + 30 }).sign(tenantKey))).status,
    ).toBe(200);
  });

  it('checks iss, aud and the configured maximum age when set', async () => {
    const claims = { business_id: 'acme', iss: 'https://app.example.com', aud: 'waconnect' };
    expect((await call(strict, await tenantJwt(claims).sign(tenantKey))).status).toBe(200);
    expect(
      (await call(strict, await tenantJwt({ ...claims, iss: 'https://evil.example.com' }).sign(tenantKey))).status,
    ).toBe(401);
    expect((await call(strict, await tenantJwt({ ...claims, aud: 'another-app' }).sign(tenantKey))).status).toBe(401);
    expect((await call(strict, await tenantJwt({ business_id: 'acme' }).sign(tenantKey))).status).toBe(401);
    expect((await call(strict, await tenantJwt(claims, { iat: now() - 2 * 3600 }).sign(tenantKey))).status).toBe(401);
  });

  it('refuses business ids outside the fixed alphabet with 401', async () => {
    for (const businessId of ['acme\u0000', 'acme\ud800', 'acme\udc00', 'ａcme', '-acme', 'a b', 'x'.repeat(129), '']) {
      const { status, body } = await call(plain, await tenantJwt({ business_id: businessId }).sign(tenantKey));
      expect(status, JSON.stringify(businessId)).toBe(401);
      expect(body.error.code).toBe('unauthorized');
    }
    expect((await call(plain, await tenantJwt({ business_id: 'x'.repeat(128) }).sign(tenantKey))).status).toBe(200);
  });

  it('accepts sandbox sessions in sandbox mode only, and never a tenant-signed one posing as one', async () => {
    const session = async (secret: string) =>
      tenantJwt({ business_id: 'demo' }, { kid: SANDBOX_SESSION_KID })
        .setIssuer(SANDBOX_SESSION_ISSUER)
        .sign(key(secret));
    expect((await call(strict, await session(TEST_SECRETS.SANDBOX_SESSION_SECRET))).status).toBe(200);
    expect((await call(plain, await session(TEST_SECRETS.SANDBOX_SESSION_SECRET))).status).toBe(401);
    expect((await call(strict, await session(TEST_SECRETS.AUTH_JWT_SECRET))).status).toBe(401);
    // Signed with the sandbox key but without its kid: checked (and refused) as a tenant token.
    const unmarked = await tenantJwt({ business_id: 'demo', iss: 'https://app.example.com', aud: 'waconnect' }).sign(
      key(TEST_SECRETS.SANDBOX_SESSION_SECRET),
    );
    expect((await call(strict, unmarked)).status).toBe(401);
  });
});

describe('requireRole', () => {
  let target: { url: string; server: Server };
  beforeAll(async () => {
    target = await serve(
      loadConfig(
        {
          ...base,
          META_SANDBOX: 'false',
          META_APP_ID: '1',
          META_APP_SECRET: 'x',
          FRONTEND_URL: 'https://app.example.com',
          AUTH_ROLE_CLAIM: 'https://app.example.com/roles',
        },
        'api',
      ),
    );
  });
  afterAll(() => target?.server.close());

  const get = async (token?: string) =>
    fetch(`${target.url}/agent-only`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  const tenantKey = key(TEST_SECRETS.AUTH_JWT_SECRET);

  it('lets an agent through and answers 403 forbidden to other users', async () => {
    expect(
      (await get(await tenantJwt({ business_id: 'acme', 'https://app.example.com/roles': ['agent'] }).sign(tenantKey)))
        .status,
    ).toBe(200);
    const owner = await get(
      await tenantJwt({ business_id: 'acme', 'https://app.example.com/roles': 'owner' }).sign(tenantKey),
    );
    expect(owner.status).toBe(403);
    expect(((await owner.json()) as any).error.code).toBe('forbidden');
    // The default claim name does not count when another one is configured.
    expect((await get(await tenantJwt({ business_id: 'acme', role: 'agent' }).sign(tenantKey))).status).toBe(403);
    expect((await get()).status).toBe(401);
  });
});

describe('sandbox dashboard sessions', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ api: true, worker: false });
  });
  afterAll(() => stack?.close());

  it('are signed with the sandbox session key, never the tenant key, and open the business’s routes', async () => {
    const res = await fetch(`${stack.api!.url}/api/sandbox/session`, {
      method: 'POST',
      body: JSON.stringify({ businessId: 'demo-shop' }),
    });
    const { token } = (await res.json()) as { token: string };
    await expect(jwtVerify(token, key(TEST_SECRETS.AUTH_JWT_SECRET))).rejects.toThrow();
    await expect(jwtVerify(token, key(TEST_SECRETS.SANDBOX_SESSION_SECRET))).resolves.toBeTruthy();
    const status = await fetch(`${stack.api!.url}/api/integrations/whatsapp/status`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(status.status).toBe(200);
  });
});
