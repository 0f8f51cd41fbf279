// /api/integrations/whatsapp/templates: the business's message templates (list, create, delete).
// Every answer lists its fields explicitly (src/services/templates.ts).
import Router from '@koa/router';
import { z } from 'zod';
import { createTemplate, deleteTemplate, listTemplates } from '../services/templates.js';
import { readJson } from './body.js';
import { parse } from './validate.js';
import type { AppDeps } from './app.js';
import { businessOf, requireBusiness } from './auth.js';
import { dashboardCors } from './cors.js';

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

const deleteQuery = z.object({ language: language.optional(), wabaId: wabaId.optional() });

export function templateRoutes(deps: AppDeps): Router {
  const router = new Router({ prefix: '/api/integrations/whatsapp/templates' });
  const auth = requireBusiness(deps.config);
  router.use(dashboardCors(deps.config));

  router.get('/', auth, deps.limits.reads, async (ctx) => {
    const query = parse(listQuery, ctx.query);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await listTemplates(deps, businessOf(ctx), query);
  });

  router.post('/', auth, deps.limits.writes, async (ctx) => {
    const body = parse(createBody, await readJson(ctx));
    ctx.status = 201;
    ctx.body = { template: await createTemplate(deps, businessOf(ctx), body) };
  });

  router.delete('/:name', auth, deps.limits.writes, async (ctx) => {
    const name = parse(z.string().min(1).max(512), ctx.params.name);
    const query = parse(deleteQuery, ctx.query);
    ctx.body = await deleteTemplate(deps, businessOf(ctx), { name, ...query });
  });

  return router;
}
