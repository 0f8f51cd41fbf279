// The remote codec endpoint the Temporal UI calls to show payloads decoded (POST /decode, /encode,
// Temporal's remote codec protocol). Outside sandbox mode it needs an operator credential: the
// static CODEC_AUTH_TOKEN, or a JWT under AUTH_JWT_SECRET with `"operator": true` (what the UI
// forwards with its "pass access token" setting).
import Router from '@koa/router';
import { jwtVerify } from 'jose';
import type { Context, Next } from 'koa';
import { z } from 'zod';
import type { Payload } from '@temporalio/common';
import { constantTimeEqual } from '../crypto.js';
import { EncryptionCodec } from '../temporal/codec.js';
import type { AppDeps } from './app.js';
import { readJson } from './body.js';
import { HttpError, unauthorized } from './errors.js';

export const CODEC_PATH = '/api/temporal-codec';

const body = z.object({
  payloads: z
    .array(z.object({ metadata: z.record(z.string(), z.string()).optional(), data: z.string().optional() }))
    .max(10_000),
});

type JsonPayload = z.infer<typeof body>['payloads'][number];

function fromJson(p: JsonPayload): Payload {
  return {
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
    data: Buffer.from(p.data ?? '', 'base64'),
  };
}

function toJson(p: Payload): JsonPayload {
  return {
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? []).toString('base64')])),
    data: Buffer.from(p.data ?? []).toString('base64'),
  };
}

export function codecRoutes({ config }: AppDeps): Router {
  const router = new Router({ prefix: CODEC_PATH });
  const codec = new EncryptionCodec(config.keyring);
  const jwtSecret = new TextEncoder().encode(config.auth.jwtSecret);
  const allowedOrigin = config.temporal.uiUrl ? new URL(config.temporal.uiUrl).origin : undefined;

  const cors = async (ctx: Context, next: Next) => {
    const origin = ctx.get('origin');
    const localUi = config.meta.sandbox && /^http:\/\/(localhost|127\.0\.0\.1):\d+$/.test(origin);
    if (origin && (origin === allowedOrigin || localUi)) {
      ctx.set('Access-Control-Allow-Origin', origin);
      ctx.set('Access-Control-Allow-Credentials', 'true');
      ctx.set('Access-Control-Allow-Headers', 'Content-Type, X-Namespace, Authorization');
      ctx.set('Access-Control-Allow-Methods', 'POST, OPTIONS');
      ctx.set('Vary', 'Origin');
    }
    if (ctx.method === 'OPTIONS') {
      ctx.status = 204;
      return;
    }
    await next();
  };

  const authorize = async (ctx: Context, next: Next) => {
    // Sandbox mode is a laptop: the UI and the API are both on localhost.
    if (config.meta.sandbox) return next();
    const token = /^Bearer\s+(\S+)$/i.exec(ctx.get('authorization'))?.[1];
    if (!token) throw unauthorized('An operator credential is required to decode payloads.');
    if (config.codecAuthToken && constantTimeEqual(token, config.codecAuthToken)) return next();
    try {
      const { payload } = await jwtVerify(token, jwtSecret, { algorithms: ['HS256'] });
      if (payload.operator === true) return next();
    } catch {
      // fall through
    }
    throw unauthorized('This credential may not decode payloads.');
  };

  const handle = (direction: 'encode' | 'decode') => async (ctx: Context) => {
    const parsed = body.safeParse(await readJson(ctx, 16 * 1024 * 1024));
    if (!parsed.success) throw new HttpError(400, 'invalid_request', 'Expected {"payloads": [...]}.');
    const payloads = parsed.data.payloads.map(fromJson);
    try {
      const out = direction === 'encode' ? await codec.encode(payloads) : await codec.decode(payloads);
      ctx.body = { payloads: out.map(toJson) };
    } catch {
      throw new HttpError(400, 'undecodable', 'A payload could not be decoded with the configured keys.');
    }
  };

  router.use(cors);
  router.options('/encode', () => undefined);
  router.options('/decode', () => undefined);
  router.post('/encode', authorize, handle('encode'));
  router.post('/decode', authorize, handle('decode'));
  return router;
}
