// /api/integrations/whatsapp/numbers/:phoneNumberId/*: a number's Cloud API registration and its
// two-step verification PIN. Every answer lists its fields explicitly; a PIN is answered only by
// the generate route, once.
import Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { generatePin, retryRegistration, supplyPin } from '../services/registration.js';
import { readJson } from './body.js';
import { parse } from './validate.js';
import type { AppDeps } from './app.js';
import { businessOf, requireBusiness } from './auth.js';
import { requireTemporalReady } from './health.js';
import { dashboardCors } from './cors.js';

const phoneNumberId = z.string().regex(/^\d{1,32}$/, 'a Meta phone number id (digits)');
const pinBody = z.strictObject({ pin: z.string().regex(/^\d{6}$/, 'six digits') });

const numberOf = (ctx: Context) => parse(phoneNumberId, ctx.params.phoneNumberId);

export function numberRoutes(deps: AppDeps): Router {
  const router = new Router({ prefix: '/api/integrations/whatsapp/numbers' });
  const auth = requireBusiness(deps.config);
  router.use(dashboardCors(deps.config));

  router.post('/:phoneNumberId/registration', auth, deps.limits.writes, requireTemporalReady(deps), async (ctx) => {
    const registration = await retryRegistration(deps, businessOf(ctx), numberOf(ctx));
    ctx.status = 202;
    ctx.set('Location', '/api/integrations/whatsapp/status');
    ctx.body = { registration };
  });

  router.put('/:phoneNumberId/pin', auth, deps.limits.writes, async (ctx) => {
    const { pin } = parse(pinBody, await readJson(ctx));
    ctx.body = { registration: await supplyPin(deps, businessOf(ctx), numberOf(ctx), pin) };
  });

  router.post('/:phoneNumberId/pin/generate', auth, deps.limits.writes, async (ctx) => {
    const { pin, registration } = await generatePin(deps, businessOf(ctx), numberOf(ctx));
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { pin, registration };
  });

  return router;
}
