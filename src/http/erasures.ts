// Erasures: /api/integrations/whatsapp/erasures (the business erases one of its customers, or
// everything it has) and /api/meta/data-deletion (Meta's data-deletion callback and the status
// page its answer links to). Answers never carry a phone, BSUID or Facebook user id.
import Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { parseSignedRequest, SignedRequestError } from '../meta/signed-request.js';
import {
  deletionRequestNotFound,
  deletionStatus,
  erasureNotFound,
  readErasure,
  requestDataDeletion,
  requestErasure,
} from '../services/erasures.js';
import { parseJson, readRawBody } from './body.js';
import { HttpError } from './errors.js';
import type { AppDeps } from './app.js';
import { businessOf, requireBusiness } from './auth.js';
import { dashboardCors } from './cors.js';
import { dataDeletionAnswer, deletionStatusPage, deletionStatusView, erasureView } from './presenters/erasure.js';
import type { AppState } from './state.js';
import { validate } from './validate.js';

/** A phone as a wa_id: digits, with the spaces, dashes, brackets and leading + people write. */
const phone = z
  .string()
  .transform((v) => v.replace(/[\s()-]/g, '').replace(/^\+/, ''))
  .pipe(z.string().regex(/^\d{6,15}$/, 'a phone number in international form (6 to 15 digits)'));
/** Meta's business-scoped user id: a country code, a period and up to 128 characters. */
const bsuid = z
  .string()
  .trim()
  .regex(/^[A-Za-z]{2}\.[A-Za-z0-9_-]{1,157}$/, 'a BSUID such as US.13491208655302741918');

const erasureBody = z.union([
  z.strictObject({ phone, scope: z.literal('customer').optional() }),
  z.strictObject({ bsuid, scope: z.literal('customer').optional() }),
  z.strictObject({ scope: z.literal('business') }),
]);

const erasureRequest = {
  body: erasureBody,
  refuse: {
    body: () =>
      new HttpError(
        400,
        'invalid_request',
        'send {"phone": "..."} or {"bsuid": "..."} for a customer, or {"scope": "business"} for everything',
      ),
  },
};
const erasurePath = { params: { id: z.uuid() }, refuse: { params: erasureNotFound } };
const deletionPath = {
  params: { code: z.string().regex(/^[a-f0-9]{24}$/) },
  refuse: { params: deletionRequestNotFound },
};

function signedRequestOf(ctx: Context, raw: Buffer): string | undefined {
  if (ctx.is('application/x-www-form-urlencoded'))
    return new URLSearchParams(raw.toString('utf8')).get('signed_request') ?? undefined;
  const body = raw.length === 0 ? {} : parseJson(raw);
  const value = (body as { signed_request?: unknown }).signed_request;
  return typeof value === 'string' ? value : undefined;
}

export function erasureRoutes(deps: AppDeps): Router<AppState>[] {
  const erasures = new Router<AppState>({ prefix: '/api/integrations/whatsapp/erasures' });
  const auth = requireBusiness(deps.config);
  erasures.use(dashboardCors(deps.config));

  erasures.post(
    '/',
    auth,
    deps.limits.erasures,
    validate(erasureRequest, async (ctx) => {
      const body = ctx.state.input.body;
      const subject =
        'phone' in body
          ? { kind: 'phone' as const, value: body.phone }
          : 'bsuid' in body
            ? { kind: 'bsuid' as const, value: body.bsuid }
            : { kind: 'business' as const };
      const row = await requestErasure(deps, { businessId: businessOf(ctx), subject, source: 'api' });
      ctx.status = 202;
      ctx.set('Location', `/api/integrations/whatsapp/erasures/${row.id}`);
      ctx.body = erasureView(row);
    }),
  );

  erasures.get(
    '/:id',
    auth,
    deps.limits.reads,
    validate(erasurePath, async (ctx) => {
      const row = await readErasure(deps.db, businessOf(ctx), ctx.state.input.params.id);
      ctx.set('Cache-Control', 'no-store');
      ctx.body = erasureView(row);
    }),
  );

  const meta = new Router<AppState>({ prefix: '/api/meta/data-deletion' });

  // Meta posts signed_request form-encoded; JSON is accepted too. The body is read raw: its form
  // decides how it is parsed.
  meta.post('/', async (ctx) => {
    const signed = signedRequestOf(ctx, await readRawBody(ctx, 64 * 1024));
    if (!signed) throw new HttpError(400, 'invalid_signed_request', 'the body has no signed_request');
    let userId: string;
    try {
      userId = parseSignedRequest(signed, [deps.config.meta.appSecret, deps.config.whatsapp.appSecret]).user_id;
    } catch (error) {
      if (error instanceof SignedRequestError) throw new HttpError(400, 'invalid_signed_request', error.message);
      throw error;
    }
    const { confirmationCode: code } = await requestDataDeletion(deps, userId);
    ctx.state.log.info('data deletion requested by Meta');
    ctx.set('Cache-Control', 'no-store');
    ctx.body = dataDeletionAnswer(deps.config.publicUrl, code);
  });

  // The person opens it from Facebook: a page, or the same state as JSON.
  meta.get(
    '/:code',
    validate(deletionPath, async (ctx) => {
      const status = deletionStatusView(await deletionStatus(deps.db, ctx.state.input.params.code));
      ctx.set('Cache-Control', 'no-store');
      if (ctx.accepts('json', 'html') === 'html') {
        ctx.type = 'html';
        ctx.body = deletionStatusPage(status);
        return;
      }
      ctx.body = status;
    }),
  );

  return [erasures, meta];
}
