// /api/integrations/whatsapp/*: connect (OAuth redirect), Meta's callback, status and disconnect.
import Router from '@koa/router';
import { z } from 'zod';
import { beginConnect, completeCallback, dashboardRedirect, openConnectDialog } from '../services/connect.js';
import { disconnect } from '../services/disconnect.js';
import {
  connectWithPopupCode,
  recordAbandonedSignup,
  recordBusinessAppOnboarding,
} from '../services/embedded-signup.js';
import { CONNECT_ERRORS, type ConnectErrorCode } from '../errors.js';
import { listMessages, readSettings, updateSettings } from '../services/settings.js';
import { readStatus } from '../services/status.js';
import { HttpError, rateLimited } from './errors.js';
import type { AppDeps } from './app.js';
import { businessOf, requireBusiness } from './auth.js';
import { requireTemporalReady } from './health.js';
import { readConnectNonce, setConnectCookie } from './connect-cookie.js';
import { dashboardCors } from './cors.js';
import { integrationStatusView } from './presenters/integration-status.js';
import { messageLogView } from './presenters/message.js';
import { settingsView } from './presenters/settings.js';
import type { AppState } from './state.js';
import { validate } from './validate.js';
import { MAX_BRAIN_HISTORY } from '../store/brain-context.js';
import type { SignupEventOutcome } from '../store/signup-events.js';

// The browser's hops never fail on their query: what does not parse is no ticket, no state.
const startQuery = z.object({ ticket: z.string().max(512).optional() }).catch({});

const callbackQuery = z
  .object({
    code: z.string().max(4096).optional(),
    state: z.string().max(512).optional(),
    error: z.string().max(256).optional(),
  })
  .catch({});

const settingsBody = z.strictObject({
  autoReplyText: z.string().trim().min(1).max(4096).nullable().optional(),
  welcomeText: z.string().trim().min(1).max(4096).nullable().optional(),
  responder: z.enum(['rules', 'http']).optional(),
  // Up to a week; null goes back to the default (30 minutes).
  botPauseAfterOwnerReplyMs: z
    .number()
    .int()
    .min(0)
    .max(7 * 24 * 3600 * 1000)
    .nullable()
    .optional(),
  // The AI brain's contract; null goes back to version 1.
  brainVersion: z
    .union([z.literal(1), z.literal(2)])
    .nullable()
    .optional(),
  brainHistoryMessages: z.number().int().min(0).max(MAX_BRAIN_HISTORY).nullable().optional(),
});

const metaId = z.string().regex(/^\d{1,32}$/, 'a Meta id (digits)');
const popupBody = z.object({
  code: z.string().min(1).max(4096),
  wabaId: metaId.optional(),
  phoneNumberId: metaId.optional(),
  businessId: metaId.optional(),
});

// The message event Meta's popup posts (WA_EMBEDDED_SIGNUP), as the dashboard forwards it.
const signupEvent = z.object({
  type: z.literal('WA_EMBEDDED_SIGNUP').optional(),
  event: z.enum(['FINISH', 'FINISH_ONLY_WABA', 'FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING', 'CANCEL', 'ERROR']),
  data: z
    .object({
      current_step: z.string().max(128).optional(),
      error_message: z.string().max(1024).optional(),
      error_code: z.union([z.string().max(64), z.number()]).optional(),
      session_id: z.string().max(256).optional(),
      phone_number_id: metaId.optional(),
    })
    .passthrough()
    .optional(),
});

const messagesQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  before: z.coerce.number().int().positive().optional(),
});

/** HTTP status for a failed popup connect: the person's or Meta's refusal is 4xx, our trouble 5xx. */
const POPUP_ERROR_STATUS: Record<ConnectErrorCode, number> = {
  invalid_state: 400,
  access_denied: 403,
  code_used: 409,
  code_expired: 410,
  no_whatsapp_account: 422,
  permission_denied: 403,
  number_in_use: 409,
  meta_unavailable: 503,
  session_mismatch: 403,
  internal_error: 500,
};

function wantsJson(accept: string): boolean {
  return /application\/json/i.test(accept);
}

export function integrationRoutes(deps: AppDeps): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/integrations/whatsapp' });
  const auth = requireBusiness(deps.config);
  const temporalReady = requireTemporalReady(deps);
  router.use(dashboardCors(deps.config));
  router.options('/{*rest}', () => undefined);
  const statusView = async (businessId: string) =>
    integrationStatusView(await readStatus(deps.db, deps.temporal, businessId, deps.config.tokens));

  // Answers a one-time URL on our origin (never Meta's URL): the browser must pass through it.
  router.get('/connect', auth, deps.limits.connect, temporalReady, async (ctx) => {
    const url = await beginConnect(deps, businessOf(ctx));
    ctx.set('Cache-Control', 'no-store');
    if (wantsJson(ctx.get('accept'))) {
      ctx.body = { url };
      return;
    }
    ctx.redirect(url);
  });

  // The browser opens the ticket top-level: it gets the cookie binding the state to it, then Meta.
  router.get(
    '/connect/start',
    validate({ query: startQuery }, async (ctx) => {
      const { ticket } = ctx.state.input.query;
      const dialog = ticket === undefined ? undefined : await openConnectDialog(deps, ticket);
      ctx.set('Cache-Control', 'no-store');
      ctx.set('Referrer-Policy', 'no-referrer');
      if (!dialog) {
        ctx.redirect(dashboardRedirect(deps.config, { kind: 'error', code: 'invalid_state' }));
        return;
      }
      setConnectCookie(ctx, deps.config, dialog.stateHash, dialog.nonce);
      ctx.redirect(dialog.dialogUrl);
    }),
  );

  // The browser arrives from Meta: the state names the business, the cookie proves the browser.
  router.get(
    '/callback',
    validate({ query: callbackQuery }, async (ctx) => {
      const query = ctx.state.input.query;
      const outcome = await completeCallback(deps, query, readConnectNonce(ctx, deps.config, query.state));
      ctx.state.log.info(
        { outcome: outcome.kind, ...(outcome.kind === 'error' ? { code: outcome.code } : {}) },
        'connect callback',
      );
      ctx.set('Cache-Control', 'no-store');
      ctx.set('Referrer-Policy', 'no-referrer');
      ctx.redirect(dashboardRedirect(deps.config, outcome));
    }),
  );

  router.get('/status', auth, deps.limits.reads, async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await statusView(businessOf(ctx));
  });

  router.delete('/disconnect', auth, deps.limits.writes, async (ctx) => {
    const businessId = businessOf(ctx);
    await disconnect(deps, businessId);
    ctx.body = await statusView(businessId);
  });

  router.post(
    '/embedded-signup',
    auth,
    deps.limits.embedded_signup,
    temporalReady,
    validate({ body: popupBody }, async (ctx) => {
      const businessId = businessOf(ctx);
      const outcome = await connectWithPopupCode(deps, businessId, ctx.state.input.body);
      ctx.set('Cache-Control', 'no-store');
      if (outcome.kind === 'success') {
        ctx.body = await statusView(businessId);
      } else if (outcome.kind === 'pending') {
        ctx.status = 202;
        ctx.set('Location', '/api/integrations/whatsapp/status');
        ctx.body = {
          statusUrl: '/api/integrations/whatsapp/status',
          connect: (await statusView(businessId)).connect,
        };
      } else {
        throw new HttpError(POPUP_ERROR_STATUS[outcome.code], outcome.code, CONNECT_ERRORS[outcome.code]);
      }
    }),
  );

  router.post(
    '/embedded-signup/events',
    auth,
    validate({ body: signupEvent }, async (ctx) => {
      const body = ctx.state.input.body;
      // A business records at most SIGNUP_EVENTS_PER_HOUR events; beyond, 429 until one ages out.
      const refuseWhenFull = (outcome: SignupEventOutcome) => {
        if (!outcome.recorded) throw rateLimited('Too many signup events for this business', outcome.retryAfterSeconds);
      };
      if (body.event === 'CANCEL' || body.event === 'ERROR') {
        const outcome = await recordAbandonedSignup(deps, businessOf(ctx), {
          event: body.event,
          currentStep: body.data?.current_step,
          errorMessage: body.data?.error_message,
          errorCode: body.data?.error_code === undefined ? undefined : String(body.data.error_code),
          sessionId: body.data?.session_id,
        });
        refuseWhenFull(outcome);
      }
      // The number stays on the WhatsApp Business app: marked at persist, or now if the connect was faster.
      if (body.event === 'FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING' && body.data?.phone_number_id)
        refuseWhenFull(await recordBusinessAppOnboarding(deps, businessOf(ctx), body.data.phone_number_id));
      // Other FINISH events need nothing: the code posted to /embedded-signup does the work.
      ctx.status = 204;
    }),
  );

  router.get('/settings', auth, deps.limits.reads, async (ctx) => {
    ctx.body = settingsView(deps.config.reply, await readSettings(deps.db, businessOf(ctx)));
  });

  router.put(
    '/settings',
    auth,
    deps.limits.writes,
    validate({ body: settingsBody }, async (ctx) => {
      const settings = await updateSettings(deps.config, deps.db, businessOf(ctx), ctx.state.input.body);
      ctx.body = settingsView(deps.config.reply, settings);
    }),
  );

  router.get(
    '/messages',
    auth,
    deps.limits.reads,
    validate({ query: messagesQuery }, async (ctx) => {
      ctx.set('Cache-Control', 'no-store');
      ctx.body = messageLogView(await listMessages(deps.db, businessOf(ctx), ctx.state.input.query));
    }),
  );

  return router;
}
