// The remote codec endpoint the Temporal UI calls to show payloads decoded (POST /decode, /encode,
// Temporal's remote codec protocol). It needs an operator credential: the static CODEC_AUTH_TOKEN,
// or a JWT (what the UI forwards with its "pass access token" setting) verified with the operators'
// own key (CODEC_JWT_SECRET, HS256) or key set (CODEC_JWT_JWKS_URL), never the tenant key. Sandbox
// mode opens it to requests from this machine only.
import Router from '@koa/router';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify, type JWTVerifyOptions } from 'jose';
import type { Context, Next } from 'koa';
import { z } from 'zod';
import type { Payload } from '@temporalio/common';
import { constantTimeEqual } from '../crypto.js';
import { EncryptionCodec } from '../temporal/codec.js';
import type { AppDeps } from './app.js';
import { CLOCK_SKEW_SECONDS } from './auth.js';
import { cors } from './cors.js';
import { bearerToken, HttpError, unauthorized } from './errors.js';
import type { AppState } from './state.js';
import { validate } from './validate.js';

export const CODEC_PATH = '/api/temporal-codec';

const body = z.object({
  payloads: z
    .array(z.object({ metadata: z.record(z.string(), z.string()).optional(), data: z.string().optional() }))
    .max(10_000),
});
const codecRequest = {
  body,
  bodyLimit: 16 * 1024 * 1024,
  refuse: { body: () => new HttpError(400, 'invalid_request', 'Expected {"payloads": [...]}.') },
};

type JsonPayload = z.infer<typeof body>['payloads'][number];

function fromJson(p: JsonPayload): Payload {
  return {
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
    data: Buffer.from(p.data ?? '', 'base64'),
  };
}

function toJson(p: Payload): JsonPayload {
  return {
    metadata: Object.fromEntries(
      Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? []).toString('base64')]),
    ),
    data: Buffer.from(p.data ?? []).toString('base64'),
  };
}

/** A request from this machine, not relayed: a loopback peer and no proxy header. */
function fromLoopback(ctx: Context): boolean {
  const peer = ctx.req.socket.remoteAddress ?? '';
  const loopback = peer === '::1' || /^(::ffff:)?127\./.test(peer);
  return loopback && !ctx.get('x-forwarded-for') && !ctx.get('forwarded');
}

type OperatorCheck = (token: string) => Promise<boolean>;
const ASYMMETRIC = ['RS256', 'PS256', 'ES256', 'EdDSA'];

function operatorJwtCheck(codec: AppDeps['config']['codec']): OperatorCheck {
  const options: JWTVerifyOptions = {
    clockTolerance: CLOCK_SKEW_SECONDS,
    requiredClaims: ['exp'],
    ...(codec.issuer ? { issuer: codec.issuer } : {}),
    ...(codec.audience ? { audience: codec.audience } : {}),
  };
  const secret = codec.jwtSecret ? new TextEncoder().encode(codec.jwtSecret) : undefined;
  const keySet = codec.jwksUrl ? createRemoteJWKSet(new URL(codec.jwksUrl)) : undefined;
  return async (token) => {
    try {
      const symmetric = decodeProtectedHeader(token).alg?.startsWith('HS') ?? false;
      if (symmetric && secret) await jwtVerify(token, secret, { ...options, algorithms: ['HS256'] });
      else if (!symmetric && keySet) await jwtVerify(token, keySet, { ...options, algorithms: ASYMMETRIC });
      else return false;
      return true;
    } catch {
      return false;
    }
  };
}

export function codecRoutes({ config }: AppDeps): Router<AppState> {
  const router = new Router<AppState>({ prefix: CODEC_PATH });
  const codec = new EncryptionCodec(config.codecKeyring);
  const operatorJwt = operatorJwtCheck(config.codec);
  const allowedOrigin = config.temporal.uiUrl ? new URL(config.temporal.uiUrl).origin : undefined;

  const uiCors = cors({
    allows: (origin) =>
      origin === allowedOrigin || (config.meta.sandbox && /^http:\/\/(localhost|127\.0\.0\.1):\d+$/.test(origin)),
    headers: 'Content-Type, X-Namespace, Authorization',
    methods: 'POST, OPTIONS',
    credentials: true,
  });

  const authorize = async (ctx: Context, next: Next) => {
    // Sandbox mode is a laptop: the UI and the API are both on this machine.
    if (config.meta.sandbox && fromLoopback(ctx)) return next();
    const token = bearerToken(ctx);
    if (!token) throw unauthorized('An operator credential is required to decode payloads.');
    if (config.codec.authToken && constantTimeEqual(token, config.codec.authToken)) return next();
    if (await operatorJwt(token)) return next();
    throw unauthorized('This credential may not decode payloads.');
  };

  const handle = (direction: 'encode' | 'decode') =>
    validate(codecRequest, async (ctx) => {
      const payloads = ctx.state.input.body.payloads.map(fromJson);
      try {
        const out = direction === 'encode' ? await codec.encode(payloads) : await codec.decode(payloads);
        ctx.body = { payloads: out.map(toJson) };
      } catch {
        throw new HttpError(400, 'undecodable', 'A payload could not be decoded with the configured keys.');
      }
    });

  router.use(uiCors);
  router.options('/encode', () => undefined);
  router.options('/decode', () => undefined);
  router.post('/encode', authorize, handle('encode'));
  router.post('/decode', authorize, handle('decode'));
  return router;
}
