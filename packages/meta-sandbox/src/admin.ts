// /sandbox/*: the scenario controls as JSON endpoints, for browser pages and other processes
// (tests in-process use the same operations on SandboxState). No auth: sandbox mode is local only.
import Router from '@koa/router';
import type { Context, Next } from 'koa';
import { z } from 'zod';
import { readJson } from './body.js';
import { GraphError } from './errors.js';
import { OPERATIONS } from './faults.js';
import { setSendLimits } from './limits.js';
import type { SandboxState } from './state.js';

const accountInput = z.object({
  numbers: z.number().int().min(0).max(20).optional(),
  name: z.string().min(1).max(200).optional(),
  owned: z.boolean().optional(),
  registered: z.boolean().optional(),
  subscribed: z.boolean().optional(),
  coexistence: z.boolean().optional(),
});

const faultInput = z.object({
  operation: z.enum([...OPERATIONS, 'object.get', 'unknown']),
  times: z.number().int().min(1).optional(),
  status: z.number().int().min(200).max(599).optional(),
  error: z
    .object({
      code: z.number().int(),
      error_subcode: z.number().int().optional(),
      message: z.string().optional(),
      type: z.string().optional(),
    })
    .optional(),
  hangMs: z.number().int().min(0).max(600_000).optional(),
  effect: z.enum(['none', 'before', 'after']).optional(),
  objectId: z.string().min(1).optional(),
});

const numberFactsInput = z.strictObject({
  twoStepPin: z
    .string()
    .regex(/^\d{6}$/)
    .nullable()
    .optional(),
  platformType: z.enum(['CLOUD_API', 'ON_PREMISE', 'NOT_APPLICABLE']).optional(),
  status: z.string().min(1).optional(),
  codeVerificationStatus: z.enum(['VERIFIED', 'NOT_VERIFIED', 'EXPIRED']).optional(),
  isOnBizApp: z.boolean().optional(),
});

const errorDetail = z.object({ code: z.number().int(), title: z.string(), message: z.string(), details: z.string() });

const customerMessageInput = z
  .object({
    phoneNumberId: z.string().min(1),
    from: z.string().regex(/\d/, 'from must be the customer phone number'),
    name: z.string().optional(),
    type: z.string().optional(),
    text: z.string().optional(),
    reaction: z.object({ message_id: z.string(), emoji: z.string() }).optional(),
    location: z
      .object({
        latitude: z.number(),
        longitude: z.number(),
        name: z.string().optional(),
        address: z.string().optional(),
      })
      .optional(),
    interactive: z.record(z.string(), z.unknown()).optional(),
    button: z.object({ payload: z.string(), text: z.string() }).optional(),
    image: z.record(z.string(), z.unknown()).optional(),
    audio: z.record(z.string(), z.unknown()).optional(),
    document: z.record(z.string(), z.unknown()).optional(),
    sticker: z.record(z.string(), z.unknown()).optional(),
    video: z.record(z.string(), z.unknown()).optional(),
    file: z
      .strictObject({
        data: z.base64().optional(),
        size: z
          .number()
          .int()
          .min(0)
          .max(120 * 1024 * 1024)
          .optional(),
        mimeType: z.string().min(1).optional(),
        sha256: z.string().min(1).optional(),
        fileSize: z.number().int().min(0).optional(),
      })
      .optional(),
    revoke: z.object({ original_message_id: z.string() }).optional(),
    edit: z.object({ original_message_id: z.string(), message: z.record(z.string(), z.unknown()) }).optional(),
    unsupported: z.object({ type: z.string() }).optional(),
    system: z.record(z.string(), z.unknown()).optional(),
    errors: z
      .array(
        z.object({
          code: z.number().int(),
          title: z.string(),
          message: z.string(),
          error_data: z.object({ details: z.string() }),
        }),
      )
      .optional(),
    groupId: z.string().min(1).optional(),
    context: z.object({ message_id: z.string() }).optional(),
    timestamp: z.number().int().positive().optional(),
  })
  .strict();

const eventInput = z
  .object({
    field: z.string().min(1),
    event: z.string().optional(),
    phoneNumberId: z.string().optional(),
    value: z.record(z.string(), z.unknown()).optional(),
  })
  .catchall(z.unknown());

const templateStatusInput = z.strictObject({
  templateId: z.string().regex(/^\d+$/).optional(),
  name: z.string().min(1).max(512).optional(),
  language: z.string().min(1).max(32).optional(),
  category: z.enum(['MARKETING', 'UTILITY', 'AUTHENTICATION']).optional(),
  event: z.string().regex(/^[A-Z_]{1,64}$/),
  reason: z.string().max(1024).nullable().optional(),
  otherInfo: z.object({ title: z.string(), description: z.string() }).optional(),
  rejectionInfo: z.object({ reason: z.string(), recommendation: z.string() }).optional(),
});

const templateCategoryInput = z.strictObject({
  templateId: z.string().regex(/^\d+$/),
  category: z.enum(['MARKETING', 'UTILITY', 'AUTHENTICATION']),
  impending: z.boolean().optional(),
});

const templateQualityInput = z.strictObject({
  templateId: z.string().regex(/^\d+$/),
  qualityScore: z.enum(['GREEN', 'YELLOW', 'RED', 'UNKNOWN']),
});

const preferenceInput = z.strictObject({
  phoneNumberId: z.string().min(1),
  from: z.string().regex(/\d/, 'from must be the customer phone number'),
  value: z.enum(['stop', 'resume']),
  timestamp: z.number().int().positive().optional(),
});

const qualityInput = z.object({
  qualityRating: z.enum(['GREEN', 'YELLOW', 'RED', 'UNKNOWN']).optional(),
  messagingLimitTier: z.string().optional(),
  event: z.string().optional(),
  emit: z.boolean().optional(),
});

const nameInput = z.object({
  decision: z.enum(['APPROVED', 'REJECTED', 'PENDING', 'DEFERRED']),
  requestedVerifiedName: z.string().optional(),
  rejectionReason: z.string().nullable().optional(),
  emit: z.boolean().optional(),
});

const statusModeInput = z.object({
  stopAt: z.enum(['sent', 'delivered', 'read']).optional(),
  fail: errorDetail.nullable().optional(),
  windowError: z.enum(['response', 'webhook']).optional(),
});

const directTemplatesInput = z.strictObject({
  name: z.string().regex(/^[a-z0-9_]{1,500}$/),
  /** Makes this many, named name_1, name_2, ... */
  count: z.number().int().min(1).max(1000).optional(),
  language: z.string().optional(),
  category: z.string().optional(),
  subCategory: z.string().optional(),
  status: z.string().optional(),
  qualityScore: z.string().optional(),
  parameterFormat: z.enum(['POSITIONAL', 'NAMED']).optional(),
  components: z.array(z.looseObject({ type: z.string() })).optional(),
  rejectedReason: z.string().optional(),
});

const reviewRuleInput = z.strictObject({
  decision: z.enum(['APPROVED', 'REJECTED']),
  reason: z.string().optional(),
  namePrefix: z.string().optional(),
});

async function body<T>(ctx: Context, schema: z.ZodType<T>): Promise<T> {
  const parsed = schema.safeParse(await readJson(ctx));
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
    throw Object.assign(new Error(problems), { status: 400 });
  }
  return parsed.data;
}

const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined);
const num = (value: unknown) => (typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : undefined);

async function adminErrors(ctx: Context, next: Next): Promise<void> {
  try {
    await next();
  } catch (error) {
    const status = error instanceof GraphError ? error.spec.status : ((error as { status?: number }).status ?? 500);
    ctx.status = status;
    const code =
      status === 404
        ? 'not_found'
        : status === 413
          ? 'payload_too_large'
          : status < 500
            ? 'invalid_request'
            : 'internal_error';
    ctx.body = {
      error: {
        code,
        message: status < 500 || error instanceof GraphError ? (error as Error).message : 'sandbox error',
      },
    };
  }
}

export function adminRoutes(state: SandboxState): Router {
  const router = new Router({ prefix: '/sandbox' });
  router.use(adminErrors);

  router.get('/state', (ctx) => void (ctx.body = state.dump()));
  router.post('/accounts', async (ctx) => {
    ctx.status = 201;
    ctx.body = state.createAccount(await body(ctx, accountInput));
  });
  router.get('/accounts', (ctx) => void (ctx.body = { data: state.accounts() }));
  router.get('/accounts/:wabaId', (ctx) => void (ctx.body = state.account(ctx.params.wabaId!)));
  router.get('/app/subscriptions', (ctx) => void (ctx.body = { data: state.appSubscriptionList() }));
  router.delete('/app/subscriptions/fields/:field', (ctx) => {
    state.removeAppSubscriptionField(ctx.params.field!);
    ctx.body = { success: true };
  });
  router.post('/app/subscriptions/fields/:field', (ctx) => {
    state.addAppSubscriptionField(ctx.params.field!);
    ctx.body = { success: true };
  });
  router.get('/accounts/:wabaId/subscriptions', (ctx) => void (ctx.body = state.subscriptions(ctx.params.wabaId!)));
  router.delete('/accounts/:wabaId/subscriptions', (ctx) => {
    state.removeSubscriptions(ctx.params.wabaId!);
    ctx.body = { success: true };
  });
  router.post('/accounts/:wabaId/uninstall', async (ctx) => {
    const input = await body(ctx, z.object({ notify: z.boolean().optional() }));
    const webhook = state.uninstallApp(ctx.params.wabaId!, input.notify ?? true);
    ctx.body = { success: true, webhookId: webhook?.webhookId ?? null };
  });
  router.post('/accounts/:wabaId/data-deletion', async (ctx) => {
    ctx.body = await state.requestDataDeletion(ctx.params.wabaId!);
  });
  router.post('/accounts/:wabaId/tokens/invalidate', async (ctx) => {
    const input = await body(ctx, z.object({ subcode: z.number().int().optional() }));
    ctx.body = {
      invalidated: state.invalidateTokens(ctx.params.wabaId!, input.subcode ?? num(ctx.query.subcode) ?? 460),
    };
  });
  router.post('/accounts/:wabaId/tokens/expiry', async (ctx) => {
    const input = await body(ctx, z.object({ expiresInSeconds: z.number().int() }));
    ctx.body = { updated: state.setTokenExpiry(ctx.params.wabaId!, input.expiresInSeconds) };
  });
  router.post('/accounts/:wabaId/extend-on-exchange', async (ctx) => {
    const input = await body(ctx, z.object({ value: z.boolean() }));
    state.setExtendOnExchange(ctx.params.wabaId!, input.value);
    ctx.body = { success: true };
  });
  router.post('/accounts/:wabaId/events', async (ctx) => {
    const { field, event, phoneNumberId, value, ...rest } = await body(ctx, eventInput);
    const webhook = state.emitAccountEvent({
      wabaId: ctx.params.wabaId!,
      field,
      ...(event ? { event } : {}),
      ...(phoneNumberId ? { phoneNumberId } : {}),
      value: { ...rest, ...value },
    });
    ctx.status = 202;
    ctx.body = { webhookId: webhook.webhookId, skipped: webhook.skipped ?? null };
  });

  router.get('/accounts/:wabaId/templates', (ctx) => {
    state.waba(ctx.params.wabaId!);
    ctx.body = { data: state.templates.list(ctx.params.wabaId!) };
  });
  // Templates made at Meta outside the API (WhatsApp Manager): listed by GET message_templates, no webhook.
  router.post('/accounts/:wabaId/templates', async (ctx) => {
    const input = await body(ctx, directTemplatesInput);
    const wabaId = state.waba(ctx.params.wabaId!).id;
    const made = Array.from({ length: input.count ?? 1 }, (_, i) =>
      state.catalogue.addDirect(wabaId, {
        name: input.count ? `${input.name}_${i + 1}` : input.name,
        language: input.language ?? 'en_US',
        category: input.category ?? 'UTILITY',
        status: input.status ?? 'APPROVED',
        qualityScore: input.qualityScore ?? 'UNKNOWN',
        parameterFormat: input.parameterFormat ?? 'POSITIONAL',
        components: input.components ?? [{ type: 'BODY', text: `Hello {{1}} from ${input.name}` }],
        ...(input.subCategory ? { subCategory: input.subCategory } : {}),
        ...(input.rejectedReason ? { rejectedReason: input.rejectedReason } : {}),
      }),
    );
    ctx.status = 201;
    ctx.body = { data: made };
  });
  // How the next reviews of templates created through the Graph API end (newest rule first).
  router.post('/templates/review', async (ctx) => {
    state.catalogue.setRule(await body(ctx, reviewRuleInput));
    ctx.status = 204;
  });
  router.delete('/templates/review', (ctx) => {
    state.catalogue.clearRules();
    ctx.status = 204;
  });
  router.post('/accounts/:wabaId/templates/status', async (ctx) => {
    const input = await body(ctx, templateStatusInput);
    ctx.status = 202;
    ctx.body = state.templates.status(state.waba(ctx.params.wabaId!).id, input);
  });
  router.post('/accounts/:wabaId/templates/category', async (ctx) => {
    const input = await body(ctx, templateCategoryInput);
    ctx.status = 202;
    ctx.body = state.templates.category(state.waba(ctx.params.wabaId!).id, input);
  });
  router.post('/accounts/:wabaId/templates/quality', async (ctx) => {
    const input = await body(ctx, templateQualityInput);
    ctx.status = 202;
    ctx.body = state.templates.quality(state.waba(ctx.params.wabaId!).id, input);
  });

  router.post('/numbers/:phoneNumberId/quality', async (ctx) => {
    const webhook = state.setNumberQuality(ctx.params.phoneNumberId!, await body(ctx, qualityInput));
    ctx.body = { success: true, webhookId: webhook?.webhookId ?? null };
  });
  router.post('/numbers/:phoneNumberId/throughput', async (ctx) => {
    const input = await body(ctx, z.object({ emit: z.boolean().optional() }));
    const webhook = state.upgradeThroughput(ctx.params.phoneNumberId!, input.emit ?? true);
    ctx.body = { success: true, webhookId: webhook?.webhookId ?? null };
  });
  router.post('/configurations/:configId', async (ctx) => {
    const input = await body(ctx, z.object({ tokenExpiration: z.enum(['never', '60_days']) }));
    state.setConfigurationTokenExpiration(ctx.params.configId!, input.tokenExpiration);
    ctx.body = { success: true };
  });
  router.post('/numbers/:phoneNumberId/name', async (ctx) => {
    const webhook = state.setNameDecision(ctx.params.phoneNumberId!, await body(ctx, nameInput));
    ctx.body = { success: true, webhookId: webhook?.webhookId ?? null };
  });
  router.post('/numbers/:phoneNumberId/status-mode', async (ctx) => {
    ctx.body = state.setStatusMode(ctx.params.phoneNumberId!, await body(ctx, statusModeInput));
  });
  router.post('/numbers/:phoneNumberId/statuses', async (ctx) => {
    const input = await body(
      ctx,
      z.object({ messageId: z.string().min(1), status: z.enum(['sent', 'delivered', 'read', 'played']) }),
    );
    ctx.status = 202;
    ctx.body = state.reportStatus(ctx.params.phoneNumberId!, input.messageId, input.status);
  });
  router.post('/numbers/:phoneNumberId/errors', async (ctx) => {
    const input = await body(ctx, z.object({ errors: z.array(errorDetail).min(1).max(20) }));
    ctx.status = 202;
    ctx.body = state.reportErrors(ctx.params.phoneNumberId!, input.errors);
  });
  router.post('/numbers/:phoneNumberId/facts', async (ctx) => {
    state.setNumberFacts(ctx.params.phoneNumberId!, await body(ctx, numberFactsInput));
    ctx.body = { success: true };
  });
  router.post('/numbers/:phoneNumberId/echoes', async (ctx) => {
    const input = await body(ctx, z.object({ to: z.string().regex(/^\d+$/), text: z.string().min(1) }));
    ctx.status = 202;
    ctx.body = state.sendOwnerEcho(ctx.params.phoneNumberId!, input.to, input.text);
  });
  router.post('/numbers/:phoneNumberId/history-sharing', async (ctx) => {
    state.setHistorySharing(ctx.params.phoneNumberId!, (await body(ctx, z.object({ shared: z.boolean() }))).shared);
    ctx.body = { success: true };
  });
  router.post('/numbers/:phoneNumberId/offboard', (ctx) => {
    const number = state.number(ctx.params.phoneNumberId!);
    const webhook = state.emitAccountEvent({
      wabaId: number.wabaId,
      field: 'account_update',
      event: 'ACCOUNT_OFFBOARDED',
    });
    ctx.status = 202;
    ctx.body = { webhookId: webhook.webhookId };
  });
  router.post('/numbers/:phoneNumberId/limits', async (ctx) => {
    const input = await body(
      ctx,
      z.object({
        messagesPerSecond: z.number().int().min(1).max(10_000).nullable().optional(),
        pairRate: z.boolean().optional(),
        pairIntervalMs: z.number().int().min(1).max(600_000).optional(),
        pairBurst: z.number().int().min(1).max(1_000).optional(),
      }),
    );
    setSendLimits(state.number(ctx.params.phoneNumberId!), input);
    ctx.body = { success: true };
  });
  router.post('/numbers/:phoneNumberId/registration', async (ctx) => {
    state.setRegistered(ctx.params.phoneNumberId!, (await body(ctx, z.object({ registered: z.boolean() }))).registered);
    ctx.body = { success: true };
  });

  router.post('/faults', async (ctx) => {
    ctx.status = 201;
    ctx.body = state.addFault(await body(ctx, faultInput));
  });
  router.get('/faults', (ctx) => void (ctx.body = { data: state.faults() }));
  router.delete('/faults', (ctx) => {
    state.clearFaults();
    ctx.body = { success: true };
  });

  router.get('/calls', (ctx) => {
    const operation = text(ctx.query.operation);
    const objectId = text(ctx.query.objectId);
    const since = num(ctx.query.since);
    ctx.body = {
      data: state.calls({
        ...(operation ? { operation } : {}),
        ...(objectId ? { objectId } : {}),
        ...(since !== undefined ? { since } : {}),
      }),
    };
  });
  router.delete('/calls', (ctx) => {
    state.clearCalls();
    ctx.body = { success: true };
  });

  router.post('/customers/messages', async (ctx) => {
    const input = await body(ctx, customerMessageInput);
    state.number(input.phoneNumberId);
    ctx.status = 202;
    ctx.body = state.sendCustomerMessage(input);
  });
  router.post('/customers/messages/batch', async (ctx) => {
    const batch = z.object({
      messages: z
        .array(customerMessageInput)
        .min(1)
        .max(100)
        .refine(
          (list) => list.every((m) => m.phoneNumberId === list[0]?.phoneNumberId),
          'a batch goes to one phone number',
        ),
    });
    const input = await body(ctx, batch);
    for (const message of input.messages) state.number(message.phoneNumberId);
    ctx.status = 202;
    ctx.body = { data: state.sendCustomerMessages(input.messages) };
  });
  router.post('/customers/user-id-update', async (ctx) => {
    const input = await body(
      ctx,
      z
        .object({
          phoneNumberId: z.string().min(1),
          from: z.string().regex(/\d/, 'from must be the customer phone number'),
          userId: z
            .string()
            .regex(/^[A-Z]{2}\.[A-Za-z0-9]{1,128}$/, 'userId is a BSUID (CC.alphanumeric)')
            .optional(),
        })
        .strict(),
    );
    state.number(input.phoneNumberId);
    ctx.status = 202;
    ctx.body = state.changeCustomerUserId(input.phoneNumberId, input.from, input.userId);
  });
  router.post('/customers/preferences', async (ctx) => {
    const input = await body(ctx, preferenceInput);
    ctx.status = 202;
    ctx.body = state.templates.preference(state.number(input.phoneNumberId), input);
  });
  router.get('/conversations', (ctx) => {
    const phoneNumberId = text(ctx.query.phoneNumberId);
    const customer = text(ctx.query.customer);
    if (!phoneNumberId || !customer)
      throw Object.assign(new Error('phoneNumberId and customer are required'), { status: 400 });
    ctx.body = { data: state.conversation(phoneNumberId, customer) };
  });
  router.get('/deliveries', (ctx) => void (ctx.body = { data: state.deliveries(deliveryFilter(ctx)) }));
  router.get('/webhooks', (ctx) => void (ctx.body = { data: state.webhooks(deliveryFilter(ctx)) }));
  router.post('/webhook-url', async (ctx) => {
    state.setWebhookUrl((await body(ctx, z.object({ url: z.url() }))).url);
    ctx.body = { success: true };
  });
  router.post('/media/settings', async (ctx) => {
    const input = await body(ctx, z.strictObject({ urlTtlMs: z.number().int().min(0).max(86_400_000) }));
    state.media.urlTtlMs = input.urlTtlMs;
    ctx.body = { success: true };
  });
  router.post('/clock', async (ctx) => {
    state.advanceClock((await body(ctx, z.object({ advanceMs: z.number().int().min(0) }))).advanceMs);
    ctx.body = { now: new Date(state.now()).toISOString() };
  });
  return router;
}

function deliveryFilter(ctx: Context) {
  const field = text(ctx.query.field);
  const messageId = text(ctx.query.messageId);
  const phoneNumberId = text(ctx.query.phoneNumberId);
  const status = text(ctx.query.status);
  const since = num(ctx.query.since);
  const delivered = ctx.query.delivered === 'true' ? true : ctx.query.delivered === 'false' ? false : undefined;
  return {
    ...(field ? { field } : {}),
    ...(messageId ? { messageId } : {}),
    ...(phoneNumberId ? { phoneNumberId } : {}),
    ...(status ? { status } : {}),
    ...(since !== undefined ? { since } : {}),
    ...(delivered !== undefined ? { delivered } : {}),
  };
}
