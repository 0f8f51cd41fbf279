// /api/integrations/whatsapp/messages (POST), /messages/batch and /messages/:id: sends the business
// starts. Every answer lists its fields explicitly (presenters/send.ts).
import Router from '@koa/router';
import { z } from 'zod';
import { acceptMessages, idempotencyKey, messageNotFound, readMessage } from '../services/outbound.js';
import { HttpError } from './errors.js';
import type { AppDeps } from './app.js';
import { businessOf, requireBusiness, sendingAgentOf } from './auth.js';
import { dashboardCors } from './cors.js';
import { batchItemView, sendView } from './presenters/send.js';
import type { AppState } from './state.js';
import { validate } from './validate.js';

const BATCH_LIMIT = 1_000;
const batchBody = z.strictObject({
  messages: z.array(z.looseObject({ idempotencyKey })).min(1).max(BATCH_LIMIT),
});

const sendHeaders = z.object({ 'idempotency-key': idempotencyKey });

/** Checked before the body is read: no key at all, or one that is not a key. */
function keyRefusal(headers: unknown): HttpError {
  if (!(headers as Record<string, unknown>)['idempotency-key'])
    return new HttpError(400, 'idempotency_key_required', 'send an Idempotency-Key header');
  return new HttpError(400, 'invalid_request', 'Idempotency-Key: 1 to 255 printable characters');
}

export function outboundMessageRoutes(deps: AppDeps): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/integrations/whatsapp/messages' });
  const auth = requireBusiness(deps.config);
  router.use(dashboardCors(deps.config));

  // Each send's body is checked by the service, so a batch can answer item by item.
  const single = { headers: sendHeaders, body: z.unknown(), refuse: { headers: keyRefusal } };
  router.post(
    '/',
    auth,
    deps.limits.messages,
    validate(single, async (ctx) => {
      const { headers, body } = ctx.state.input;
      // A person's reply (a token with the agent role) is tagged with their id; batches stay bulk sends.
      const [result] = await acceptMessages(
        deps,
        businessOf(ctx),
        [{ key: headers['idempotency-key'], body }],
        sendingAgentOf(ctx),
      );
      if (!result!.ok) throw result!.error;
      ctx.status = 202;
      ctx.set('Location', `/api/integrations/whatsapp/messages/${result!.row.id}`);
      ctx.body = sendView(result!.row);
    }),
  );

  router.post(
    '/batch',
    auth,
    deps.limits.messages,
    validate({ body: batchBody, bodyLimit: 4 * 1024 * 1024 }, async (ctx) => {
      const items = ctx.state.input.body.messages.map(({ idempotencyKey: key, ...body }) => ({ key, body }));
      const results = await acceptMessages(deps, businessOf(ctx), items);
      ctx.status = 202;
      ctx.body = {
        results: results.map((result, i) => batchItemView(items[i]!.key, result)),
      };
    }),
  );

  const sendPath = {
    params: { id: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER) },
    refuse: { params: messageNotFound },
  };
  router.get(
    '/:id',
    auth,
    deps.limits.reads,
    validate(sendPath, async (ctx) => {
      ctx.set('Cache-Control', 'no-store');
      const { row, statuses } = await readMessage(deps.db, businessOf(ctx), ctx.state.input.params.id);
      ctx.body = sendView(row, statuses);
    }),
  );

  return router;
}
