// /api/integrations/whatsapp/conversations: the business's conversations (newest activity first),
// one with its messages, and the handoff that lets a person (the agent role) take it over from the
// bot and give it back. Every answer lists its fields explicitly (presenters/conversation.ts).
import Router from '@koa/router';
import { z } from 'zod';
import {
  conversationDetail,
  conversationNotFound,
  giveBack,
  listBusinessConversations,
  takeOver,
} from '../services/conversations.js';
import type { AppDeps } from './app.js';
import { agentOf, businessOf, requireBusiness, requireRole } from './auth.js';
import { dashboardCors } from './cors.js';
import { conversationDetailView, conversationPageView, conversationView } from './presenters/conversation.js';
import type { AppState } from './state.js';
import { validate } from './validate.js';

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

/** A path id that cannot be a conversation's names none of the business's. */
const conversationPath = { params: { id: cursor }, refuse: { params: conversationNotFound } };

export function conversationRoutes(deps: AppDeps): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/integrations/whatsapp/conversations' });
  const auth = requireBusiness(deps.config);
  const agent = requireRole('agent', 'admin');
  router.use(dashboardCors(deps.config));

  router.get(
    '/',
    auth,
    deps.limits.reads,
    validate({ query: listQuery }, async (ctx) => {
      ctx.set('Cache-Control', 'no-store');
      ctx.body = conversationPageView(await listBusinessConversations(deps.db, businessOf(ctx), ctx.state.input.query));
    }),
  );

  router.get(
    '/:id',
    auth,
    deps.limits.reads,
    validate({ ...conversationPath, query: messagesQuery }, async (ctx) => {
      const { params, query } = ctx.state.input;
      ctx.set('Cache-Control', 'no-store');
      ctx.body = conversationDetailView(await conversationDetail(deps.db, businessOf(ctx), params.id, query));
    }),
  );

  router.post(
    '/:id/handoff',
    auth,
    deps.limits.writes,
    agent,
    validate({ ...conversationPath, body: handoffBody }, async (ctx) => {
      const { params, body } = ctx.state.input;
      const conversation = await takeOver(deps.db, businessOf(ctx), params.id, {
        agentId: agentOf(ctx),
        note: body.note ?? null,
        expiresAt: body.expiresAt ? new Date(body.expiresAt) : undefined,
      });
      ctx.body = conversationView(conversation);
    }),
  );

  router.post(
    '/:id/release',
    auth,
    deps.limits.writes,
    agent,
    validate(conversationPath, async (ctx) => {
      ctx.body = conversationView(await giveBack(deps.db, businessOf(ctx), ctx.state.input.params.id, agentOf(ctx)));
    }),
  );

  return router;
}
