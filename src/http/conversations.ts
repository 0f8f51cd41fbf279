// /api/integrations/whatsapp/conversations: the business's conversations (newest activity first),
// one with its messages, and the handoff that lets a person (the agent role) take it over from the
// bot and give it back. Every answer lists its fields explicitly (services/conversations.ts).
import Router from '@koa/router';
import { z } from 'zod';
import { conversationDetail, giveBack, listConversationViews, takeOver } from '../services/conversations.js';
import { readJson } from './body.js';
import { HttpError } from './errors.js';
import { parse } from './validate.js';
import type { AppDeps } from './app.js';
import { agentOf, businessOf, requireBusiness, requireRole } from './auth.js';
import { dashboardCors } from './cors.js';

const cursor = z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER);

const listQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  before: cursor.optional(),
  mode: z.enum(['bot', 'agent']).optional(),
  unanswered: z
    .enum(['true', 'false'])
    .transform((v) => v === 'true')
    .optional(),
});

const messagesQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  before: cursor.optional(),
});

const handoffBody = z.strictObject({
  note: z.string().trim().min(1).max(1000).nullable().optional(),
  /** When the bot answers again if nobody released the conversation (default: in 24 hours). */
  expiresAt: z.iso.datetime({ offset: true }).optional(),
});

function conversationId(value: unknown): number {
  const id = cursor.safeParse(value);
  if (!id.success)
    throw new HttpError(404, 'conversation_not_found', 'This business has no conversation with that id.');
  return id.data;
}

export function conversationRoutes(deps: AppDeps): Router {
  const router = new Router({ prefix: '/api/integrations/whatsapp/conversations' });
  const auth = requireBusiness(deps.config);
  const agent = requireRole('agent', 'admin');
  router.use(dashboardCors(deps.config));

  router.get('/', auth, deps.limits.reads, async (ctx) => {
    const query = parse(listQuery, ctx.query);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await listConversationViews(deps.db, businessOf(ctx), query);
  });

  router.get('/:id', auth, deps.limits.reads, async (ctx) => {
    const id = conversationId(ctx.params.id);
    const page = parse(messagesQuery, ctx.query);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await conversationDetail(deps.db, businessOf(ctx), id, page);
  });

  router.post('/:id/handoff', auth, deps.limits.writes, agent, async (ctx) => {
    const id = conversationId(ctx.params.id);
    const body = parse(handoffBody, await readJson(ctx));
    ctx.body = await takeOver(deps.db, businessOf(ctx), id, {
      agentId: agentOf(ctx),
      note: body.note ?? null,
      expiresAt: body.expiresAt ? new Date(body.expiresAt) : undefined,
    });
  });

  router.post('/:id/release', auth, deps.limits.writes, agent, async (ctx) => {
    const id = conversationId(ctx.params.id);
    ctx.body = await giveBack(deps.db, businessOf(ctx), id, agentOf(ctx));
  });

  return router;
}
