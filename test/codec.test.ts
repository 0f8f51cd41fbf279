// The remote codec endpoint the Temporal UI uses: decodes our encrypted payloads, open to this
// machine in sandbox mode, operator-only otherwise (the operators' own key or key set, never the
// tenant key); and the sandbox-only routes do not exist there.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readIntegrationToken } from '../src/store/integrations.js';
import { connectThroughMeta, getStatus } from './helpers/meta-flow.js';
import { tokenFor } from './helpers/jwt.js';
import { newBusinessId } from './helpers/factories.js';
import { startStack, type Stack } from './helpers/stack.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('Temporal UI codec endpoint', () => {
  describe('in sandbox mode', () => {
    let stack: Stack;
    beforeAll(async () => {
      stack = await startStack({ api: true, sandbox: true });
    });
    afterAll(() => stack?.close());

    it('decodes a whole connect history, and no payload holds the token', async () => {
      const businessId = newBusinessId();
      await connectThroughMeta(stack.api!.url, businessId);
      const status = await getStatus(stack.api!.url, businessId);
      const token = (await readIntegrationToken(stack.db, stack.config.keyring, status.integration.id))!;
      const attempt = await stack.db('connect_attempts').where({ business_id: businessId }).first();
      const history = await stack.client.workflow.getHandle(attempt!.workflow_id).fetchHistory();
      const payloads: Array<{ metadata: Record<string, string>; data: string }> = [];
      const walk = (node: unknown): void => {
        if (Array.isArray(node)) node.forEach(walk);
        else if (node && typeof node === 'object') {
          const r = node as { metadata?: Record<string, Uint8Array>; data?: Uint8Array };
          if (r.metadata && r.data) {
            payloads.push({
              metadata: Object.fromEntries(
                Object.entries(r.metadata).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
              ),
              data: Buffer.from(r.data).toString('base64'),
            });
          } else Object.values(node).forEach(walk);
        }
      };
      walk(history);
      expect(payloads.length).toBeGreaterThan(3);
      const res = await fetch(`${stack.api!.url}/api/temporal-codec/decode`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-namespace': 'default' },
        body: JSON.stringify({ payloads }),
      });
      expect(res.status).toBe(200);
      const decoded = ((await res.json()) as { payloads: Array<{ metadata: Record<string, string>; data: string }> })
        .payloads;
      const texts = decoded.map((p) => Buffer.from(p.data, 'base64').toString('utf8'));
      expect(decoded.every((p) => Buffer.from(p.metadata.encoding!, 'base64').toString() !== 'binary/encrypted')).toBe(
        true,
      );
      expect(texts.join('\n')).toContain(businessId);
      expect(texts.join('\n')).not.toContain(token);
    });

    it('encodes and decodes back, and answers the UI’s CORS preflight', async () => {
      const payload = { metadata: { encoding: b64('json/plain') }, data: b64('{"hello":"world"}') };
      const encoded = (await (
        await fetch(`${stack.api!.url}/api/temporal-codec/encode`, {
          method: 'POST',
          body: JSON.stringify({ payloads: [payload] }),
        })
      ).json()) as { payloads: unknown[] };
      expect(JSON.stringify(encoded)).not.toContain(b64('{"hello":"world"}'));
      const decoded = (await (
        await fetch(`${stack.api!.url}/api/temporal-codec/decode`, { method: 'POST', body: JSON.stringify(encoded) })
      ).json()) as { payloads: unknown[] };
      expect(decoded.payloads).toEqual([payload]);
      const preflight = await fetch(`${stack.api!.url}/api/temporal-codec/decode`, {
        method: 'OPTIONS',
        headers: {
          origin: 'http://localhost:8233',
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type,x-namespace',
        },
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-allow-origin')).toBe('http://localhost:8233');
      expect(preflight.headers.get('access-control-allow-headers')).toMatch(/X-Namespace/);
    });

    it('is not open to a request relayed from another machine, sandbox mode or not', async () => {
      const relayed = await fetch(`${stack.api!.url}/api/temporal-codec/decode`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': '203.0.113.7' },
        body: JSON.stringify({ payloads: [] }),
      });
      expect(relayed.status).toBe(401);
    });
  });

  describe('outside sandbox mode', () => {
    let stack: Stack;
    let jwks: Server;
    let operatorKey: CryptoKey;
    const OPERATOR_TOKEN = 'operator-token-0123456789-0123456789';
    const OPERATOR_SECRET = 'operators-own-secret-0123456789-abcdef';
    const decode = (headers: Record<string, string>) =>
      fetch(`${stack.api!.url}/api/temporal-codec/decode`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ payloads: [] }),
      });
    const signedByIdp = (audience: string) =>
      new SignJWT({ sub: 'ops@example.com' })
        .setProtectedHeader({ alg: 'ES256', kid: 'ops-1' })
        .setIssuer('https://idp.example.com')
        .setAudience(audience)
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(operatorKey);
    beforeAll(async () => {
      const pair = await generateKeyPair('ES256');
      operatorKey = pair.privateKey;
      const publicJwk = { ...(await exportJWK(pair.publicKey)), kid: 'ops-1', alg: 'ES256', use: 'sig' };
      const keySet = JSON.stringify({ keys: [publicJwk] });
      jwks = createServer((_req, res) => res.setHeader('content-type', 'application/json').end(keySet));
      await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
      stack = await startStack({
        api: true,
        worker: false,
        env: {
          META_SANDBOX: 'false',
          META_APP_ID: '1234567890',
          CODEC_AUTH_TOKEN: OPERATOR_TOKEN,
          CODEC_JWT_SECRET: OPERATOR_SECRET,
          CODEC_JWT_JWKS_URL: `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json`,
          CODEC_JWT_ISSUER: 'https://idp.example.com',
          CODEC_JWT_AUDIENCE: 'temporal-ui',
          TEMPORAL_UI_URL: 'https://temporal.example.com',
        },
      });
    });
    afterAll(async () => {
      await stack?.close();
      await new Promise((resolve) => jwks?.close(resolve));
    });

    it('answers 401 without an operator credential', async () => {
      expect((await decode({})).status).toBe(401);
      expect((await decode({ authorization: 'Bearer wrong' })).status).toBe(401);
      const business = await tokenFor('some-business');
      expect((await decode({ authorization: `Bearer ${business}` })).status).toBe(401);
      const forged = await tokenFor('x', { secret: 'another-secret-another-secret-000', claims: { operator: true } });
      expect((await decode({ authorization: `Bearer ${forged}` })).status).toBe(401);
    });

    it('never takes a tenant-signed token as an operator, whatever it claims', async () => {
      const claims = { operator: true, iss: 'https://idp.example.com', aud: 'temporal-ui' };
      const tenant = await tokenFor('ops', { claims });
      expect((await decode({ authorization: `Bearer ${tenant}` })).status).toBe(401);
    });

    it('decodes for the operator token, a JWT under the operators’ key, or one from their key set', async () => {
      expect((await decode({ authorization: `Bearer ${OPERATOR_TOKEN}` })).status).toBe(200);
      const claims = { iss: 'https://idp.example.com', aud: 'temporal-ui' };
      const operator = await tokenFor('ops', { secret: OPERATOR_SECRET, claims });
      expect((await decode({ authorization: `Bearer ${operator}` })).status).toBe(200);
      expect((await decode({ authorization: `Bearer ${await signedByIdp('temporal-ui')}` })).status).toBe(200);
    });

    it('refuses operator JWTs for another audience', async () => {
      expect((await decode({ authorization: `Bearer ${await signedByIdp('another-app')}` })).status).toBe(401);
      const claims = { iss: 'https://idp.example.com', aud: 'elsewhere' };
      const operator = await tokenFor('ops', { secret: OPERATOR_SECRET, claims });
      expect((await decode({ authorization: `Bearer ${operator}` })).status).toBe(401);
    });

    it('allows only the configured Temporal UI origin', async () => {
      const preflight = (origin: string) =>
        fetch(`${stack.api!.url}/api/temporal-codec/decode`, {
          method: 'OPTIONS',
          headers: { origin, 'access-control-request-method': 'POST' },
        });
      expect((await preflight('https://temporal.example.com')).headers.get('access-control-allow-origin')).toBe(
        'https://temporal.example.com',
      );
      expect((await preflight('http://localhost:8233')).headers.get('access-control-allow-origin')).toBeNull();
    });

    it('has no dashboard and no session endpoint', async () => {
      expect((await fetch(`${stack.api!.url}/`)).status).toBe(404);
      expect(
        (await fetch(`${stack.api!.url}/api/sandbox/session`, { method: 'POST', body: '{"businessId":"x"}' })).status,
      ).toBe(404);
    });
  });
});
