// /api/integrations/whatsapp/numbers/:phoneNumberId/*: a number's Cloud API registration and its
// two-step verification PIN. Every answer lists its fields explicitly; a PIN is answered only by
// the generate route, once.
import Router from '@koa/router';
import { z } from 'zod';
import { generatePin, retryRegistration, supplyPin } from '../services/registration.js';
import type { AppDeps } from './app.js';
import { businessOf, requireBusiness } from './auth.js';
import { requireTemporalReady } from './health.js';
import { dashboardCors } from './cors.js';
import { numberRegistrationView } from './presenters/registration.js';
import type { AppState } from './state.js';
import { validate } from './validate.js';

const phoneNumberId = z.string().regex(/^\d{1,32}$/, 'a Meta phone number id (digits)');
const pinBody = z.strictObject({ pin: z.string().regex(/^\d{6}$/, 'six digits') });

const numberPath = { params: { phoneNumberId } };

export function numberRoutes(deps: AppDeps): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/integrations/whatsapp/numbers' });
  const auth = requireBusiness(deps.config);
  router.use(dashboardCors(deps.config));

  router.post(
    '/:phoneNumberId/registration',
    auth,
    deps.limits.writes,
    requireTemporalReady(deps),
    validate(numberPath, async (ctx) => {
      const registration = await retryRegistration(deps, businessOf(ctx), ctx.state.input.params.phoneNumberId);
      ctx.status = 202;
      ctx.set('Location', '/api/integrations/whatsapp/status');
      ctx.body = { registration: numberRegistrationView(registration) };
    }),
  );

  router.put(
    '/:phoneNumberId/pin',
    auth,
    deps.limits.writes,
    validate({ ...numberPath, body: pinBody }, async (ctx) => {
      const { params, body } = ctx.state.input;
      const registration = await supplyPin(deps, businessOf(ctx), params.phoneNumberId, body.pin);
      ctx.body = { registration: numberRegistrationView(registration) };
    }),
  );

  router.post(
    '/:phoneNumberId/pin/generate',
    auth,
    deps.limits.writes,
    validate(numberPath, async (ctx) => {
      const { pin, registration } = await generatePin(deps, businessOf(ctx), ctx.state.input.params.phoneNumberId);
      ctx.set('Cache-Control', 'no-store');
      ctx.body = { pin, registration: numberRegistrationView(registration) };
    }),
  );

  return router;
}
