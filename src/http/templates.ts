// /api/integrations/whatsapp/templates: the business's message templates (list, create, delete).
// Every answer lists its fields explicitly (presenters/template.ts).
import Router from '@koa/router';
import { z } from 'zod';
import { createTemplate, deleteTemplate, listTemplates } from '../services/templates.js';
import type { AppDeps } from './app.js';
import { businessOf, requireBusiness } from './auth.js';
import { dashboardCors } from './cors.js';
import { templatePageView, templateView } from './presenters/template.js';
import type { AppState } from './state.js';
import { validate } from './validate.js';

const wabaId = z.string().regex(/^\d{1,32}$/, 'a WhatsApp Business Account id (digits)');
const language = z.string().regex(/^[A-Za-z]{2,3}(_[A-Za-z0-9]{2,4})?$/, 'a language code such as en_US');

const listQuery = z.object({
  status: z.string().max(40).optional(),
  name: z.string().max(512).optional(),
  language: language.optional(),
  wabaId: wabaId.optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  before: z.coerce.number().int().positive().optional(),
});

// Names, categories and components are Meta's to judge: its refusal comes back in its own words.
const createBody = z.strictObject({
  wabaId: wabaId.optional(),
  name: z.string().min(1).max(512),
  language,
  category: z.string().min(1).max(40),
  components: z
    .array(z.looseObject({ type: z.string() }))
    .min(1)
    .max(10),
  parameterFormat: z.enum(['POSITIONAL', 'NAMED']).optional(),
});

const templateName = z.string().min(1).max(512);
const deleteQuery = z.object({ language: language.optional(), wabaId: wabaId.optional() });

export function templateRoutes(deps: AppDeps): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/integrations/whatsapp/templates' });
  const auth = requireBusiness(deps.config);
  router.use(dashboardCors(deps.config));

  router.get(
    '/',
    auth,
    deps.limits.reads,
    validate({ query: listQuery }, async (ctx) => {
      ctx.set('Cache-Control', 'no-store');
      ctx.body = templatePageView(await listTemplates(deps, businessOf(ctx), ctx.state.input.query));
    }),
  );

  router.post(
    '/',
    auth,
    deps.limits.writes,
    validate({ body: createBody }, async (ctx) => {
      const template = await createTemplate(deps, businessOf(ctx), ctx.state.input.body);
      ctx.status = 201;
      ctx.body = { template: templateView(template) };
    }),
  );

  router.delete(
    '/:name',
    auth,
    deps.limits.writes,
    validate({ params: { name: templateName }, query: deleteQuery }, async (ctx) => {
      const { params, query } = ctx.state.input;
      const deleted = await deleteTemplate(deps, businessOf(ctx), { name: params.name, ...query });
      ctx.body = { deleted: deleted.map(templateView) };
    }),
  );

  return router;
}
