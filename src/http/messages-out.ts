// /api/integrations/whatsapp/messages (POST), /messages/batch and /messages/:id: sends the business
// starts. Every answer lists its fields explicitly (services/outbound.ts sendView).
import Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { acceptMessages, idempotencyKey, readMessage, type ItemResult } from '../services/outbound.js';
import { readJson } from './body.js';
import { HttpError, statusOf } from './errors.js';
import { parse } from './validate.js';
import type { AppDeps } from './app.js';
import { businessOf, requireBusiness, sendingAgentOf } from './auth.js';
import { dashboardCors } from './cors.js';

const BATCH_LIMIT = 1_000;
const batchBody = z.strictObject({
  messages: z.array(z.looseObject({ idempotencyKey })).min(1).max(BATCH_LIMIT),
});

function keyOf(ctx: Context): string {
  const header = ctx.get('Idempotency-Key');
  if (!header) throw new HttpError(400, 'idempotency_key_required', 'send an Idempotency-Key header');
  const parsed = idempotencyKey.safeParse(header);
  if (!parsed.success) throw new HttpError(400, 'invalid_request', 'Idempotency-Key: 1 to 255 printable characters');
  return parsed.data;
}

const present = (result: ItemResult) =>
  result.ok ? result.send : { error: { code: result.error.code, message: result.error.message } };

export function outboundMessageRoutes(deps: AppDeps): Router {
  const router = new Router({ prefix: '/api/integrations/whatsapp/messages' });
  const auth = requireBusiness(deps.config);
  router.use(dashboardCors(deps.config));

  router.post('/', auth, deps.limits.messages, async (ctx) => {
    const key = keyOf(ctx);
    // A person's reply (a token with the agent role) is tagged with their id; batches stay bulk sends.
    const [result] = await acceptMessages(
      deps,
      businessOf(ctx),
      [{ key, body: await readJson(ctx) }],
      sendingAgentOf(ctx),
    );
    if (!result!.ok) throw result!.error;
    ctx.status = 202;
    ctx.set('Location', `/api/integrations/whatsapp/messages/${result!.send.id}`);
    ctx.body = present(result!);
  });

  router.post('/batch', auth, deps.limits.messages, async (ctx) => {
    const batch = parse(batchBody, await readJson(ctx, 4 * 1024 * 1024));
    const items = batch.messages.map(({ idempotencyKey: key, ...body }) => ({ key, body }));
    const results = await acceptMessages(deps, businessOf(ctx), items);
    ctx.status = 202;
    ctx.body = {
      results: results.map((result, i) => ({
        idempotencyKey: items[i]!.key,
        status: result.ok ? 202 : statusOf(result.error),
        ...present(result),
      })),
    };
  });

  router.get('/:id', auth, deps.limits.reads, async (ctx) => {
    const id = z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER).safeParse(ctx.params.id);
    if (!id.success) throw new HttpError(404, 'message_not_found', 'no send of this business has that id');
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await readMessage(deps.db, businessOf(ctx), id.data);
  });

  return router;
}
