// /api/integrations/whatsapp/*: connect (OAuth redirect), Meta's callback, status and disconnect.
import Router from '@koa/router';
import { z } from 'zod';
import { beginConnect, completeCallback, dashboardRedirect } from '../services/connect.js';
import { disconnect } from '../services/disconnect.js';
import { listMessages, readSettings, updateSettings } from '../services/settings.js';
import { readStatus } from '../services/status.js';
import { readJson } from './body.js';
import { HttpError } from './errors.js';
import type { AppDeps } from './app.js';
import { businessOf, requireBusiness } from './auth.js';

const callbackQuery = z.object({
  code: z.string().max(4096).optional(),
  state: z.string().max(512).optional(),
  error: z.string().max(256).optional(),
});

const settingsBody = z.strictObject({
  autoReplyText: z.string().trim().min(1).max(4096).nullable().optional(),
  responder: z.enum(['rules', 'http']).optional(),
});

const messagesQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  before: z.coerce.number().int().positive().optional(),
});

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (!result.success) throw new HttpError(400, 'invalid_request', z.prettifyError(result.error));
  return result.data;
}

function wantsJson(accept: string): boolean {
  return /application\/json/i.test(accept);
}

export function integrationRoutes(deps: AppDeps): Router {
  const router = new Router({ prefix: '/api/integrations/whatsapp' });
  const auth = requireBusiness(deps.config);

  router.get('/connect', auth, async (ctx) => {
    const url = await beginConnect(deps, businessOf(ctx));
    ctx.set('Cache-Control', 'no-store');
    if (wantsJson(ctx.get('accept'))) {
      ctx.body = { url };
      return;
    }
    ctx.redirect(url);
  });

  // The browser arrives from Meta; the state is the only proof of who it is.
  router.get('/callback', async (ctx) => {
    const parsed = callbackQuery.safeParse(ctx.query);
    const query = parsed.success ? parsed.data : {};
    const outcome = await completeCallback(deps, query);
    ctx.state.log.info({ outcome: outcome.kind, ...(outcome.kind === 'error' ? { code: outcome.code } : {}) }, 'connect callback');
    ctx.set('Cache-Control', 'no-store');
    ctx.set('Referrer-Policy', 'no-referrer');
    ctx.redirect(dashboardRedirect(deps.config, outcome));
  });

  router.get('/status', auth, async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await readStatus(deps.db, deps.temporal, businessOf(ctx));
  });

  router.delete('/disconnect', auth, async (ctx) => {
    const businessId = businessOf(ctx);
    await disconnect(deps, businessId);
    ctx.body = await readStatus(deps.db, deps.temporal, businessId);
  });

  router.get('/settings', auth, async (ctx) => {
    ctx.body = await readSettings(deps.config, deps.db, businessOf(ctx));
  });

  router.put('/settings', auth, async (ctx) => {
    const change = parse(settingsBody, await readJson(ctx));
    ctx.body = await updateSettings(deps.config, deps.db, businessOf(ctx), change);
  });

  router.get('/messages', auth, async (ctx) => {
    const page = parse(messagesQuery, ctx.query);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await listMessages(deps.db, businessOf(ctx), page);
  });

  return router;
}
