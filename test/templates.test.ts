// The template catalogue over real HTTP: synced from Meta (the sandbox) when a business connects,
// listed and filtered through our API, created and deleted at Meta with Meta's refusals in Meta's
// words, kept current by the template webhooks, and never set back by a sync that read Meta
// before a newer webhook.
import { randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokenScheduleId } from '../src/temporal/names.js';
import { connectedIntegration } from './helpers/connected.js';
import { getStatus } from './helpers/meta-flow.js';
import { authHeaders } from './helpers/jwt.js';
import { startStack, type Stack } from './helpers/stack.js';
import { postWebhook } from './helpers/webhooks.js';
import { quietPeriod } from './helpers/waits.js';

const suffix = () => String(randomInt(1_000_000, 9_999_999));

describe('message templates', () => {
  let stack: Stack;
  let api: string;
  let sandbox: string;
  beforeAll(async () => {
    stack = await startStack({ api: true, sandbox: true });
    api = stack.api!.url;
    sandbox = stack.sandbox!.url;
  });
  afterAll(() => stack?.close());

  async function admin(path: string, body: unknown, expected = 201): Promise<any> {
    const res = await fetch(`${sandbox}/sandbox/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(res.status, path).toBe(expected);
    return res.status === 204 ? null : res.json();
  }

  async function templatesApi(businessId: string, query = '', init: RequestInit = {}, path = '') {
    const res = await fetch(`${api}/api/integrations/whatsapp/templates${path}${query}`, {
      ...init,
      headers: { ...(await authHeaders(businessId)), 'content-type': 'application/json' },
    });
    return { status: res.status, headers: res.headers, body: (await res.json()) as any };
  }

  async function list(businessId: string, query = ''): Promise<any[]> {
    const { status, body } = await templatesApi(businessId, query);
    expect(status).toBe(200);
    return body.templates;
  }

  const synced = async (wabaId: string) =>
    (await stack.db('whatsapp_business_accounts').where({ waba_id: wabaId, is_active: true }).first())
      ?.templates_synced_at ?? null;

  /** A business connected to a new sandbox account, its catalogue synced once. */
  async function connected(prepare?: (wabaId: string) => Promise<void>) {
    const account = await admin('accounts', { numbers: 1 });
    const wabaId = account.wabaId as string;
    await prepare?.(wabaId);
    const { businessId } = await connectedIntegration(stack, { wabaId });
    expect((await getStatus(api, businessId)).accounts[0].wabaId).toBe(wabaId);
    await expect.poll(() => synced(wabaId), { timeout: 20_000 }).not.toBeNull();
    return { businessId, wabaId, integrationId: (await getStatus(api, businessId)).integration.id as string };
  }

  /** A template status webhook in Meta's documented shape (message_template_status_update reference). */
  function statusChange(templateId: string, name: string, event: string) {
    return {
      field: 'message_template_status_update',
      value: {
        event,
        message_template_id: Number(templateId),
        message_template_name: name,
        message_template_language: 'en_US',
        reason: 'NONE',
        message_template_category: 'UTILITY',
      },
    };
  }
  const webhook = (wabaId: string, time: number, changes: unknown[]) => ({
    object: 'whatsapp_business_account',
    entry: [{ id: wabaId, time, changes }],
  });

  it('syncs every template with all its fields at connect, over several pages, and filters them', async () => {
    const { businessId, wabaId } = await connected(async (waba) => {
      await admin(`accounts/${waba}/templates`, { name: 'bulk_notice', count: 105 });
      await admin(`accounts/${waba}/templates`, {
        name: 'spring_sale',
        language: 'de',
        category: 'MARKETING',
        status: 'REJECTED',
        rejectedReason: 'PROMOTIONAL',
        subCategory: 'CUSTOM',
      });
    });
    // Meta's pages hold 100 templates: the sync read two.
    expect(stack.sandbox!.state.calls({ operation: 'templates.list', objectId: wabaId }).length).toBeGreaterThanOrEqual(
      2,
    );

    const first = await templatesApi(businessId, '?limit=100');
    expect(first.status).toBe(200);
    expect(first.body.templates).toHaveLength(100);
    expect(first.body.nextBefore).toEqual(expect.any(Number));
    const rest = await list(businessId, `?limit=100&before=${first.body.nextBefore}`);
    const all = [...first.body.templates, ...rest];
    expect(all).toHaveLength(108);
    expect(new Set(all.map((t) => t.id)).size).toBe(108);

    const [hello] = await list(businessId, '?name=hello_world');
    const atMeta = stack.sandbox!.state.templates.list(wabaId).find((t) => t.name === 'hello_world')!;
    expect(hello).toEqual({
      id: atMeta.id,
      wabaId,
      name: 'hello_world',
      language: 'en_US',
      category: 'UTILITY',
      subCategory: null,
      status: 'APPROVED',
      qualityScore: 'GREEN',
      parameterFormat: 'POSITIONAL',
      components: [{ type: 'BODY', text: 'Hello {{1}}', example: { body_text: [['Jane']] } }],
      rejectedReason: null,
      updatedAt: expect.any(String),
    });
    const [named] = await list(businessId, '?name=order_update');
    expect(named).toMatchObject({
      parameterFormat: 'NAMED',
      components: expect.arrayContaining([expect.objectContaining({ type: 'HEADER' })]),
    });

    const rejected = await list(businessId, '?status=REJECTED');
    expect(rejected).toEqual([
      expect.objectContaining({
        name: 'spring_sale',
        language: 'de',
        category: 'MARKETING',
        subCategory: 'CUSTOM',
        rejectedReason: 'PROMOTIONAL',
      }),
    ]);
    expect(await list(businessId, '?language=de')).toHaveLength(1);
    expect(await list(businessId, '?status=APPROVED&limit=200')).toHaveLength(107);
    expect(await list(businessId, '?name=bulk_notice_7')).toEqual([expect.objectContaining({ name: 'bulk_notice_7' })]);
  });

  it('creates a template at Meta: PENDING at once, APPROVED when Meta’s review webhook arrives', async () => {
    const { businessId, wabaId } = await connected();
    const name = `welcome_${suffix()}`;
    const components = [{ type: 'BODY', text: 'Hi {{1}}, welcome!', example: { body_text: [['Ann']] } }];
    const created = await templatesApi(businessId, '', {
      method: 'POST',
      body: JSON.stringify({ name, language: 'en_US', category: 'MARKETING', components }),
    });
    expect(created.status).toBe(201);
    expect(created.body.template).toMatchObject({ wabaId, name, status: 'PENDING', category: 'MARKETING', components });
    const atMeta = stack.sandbox!.state.templates.list(wabaId).find((t) => t.name === name)!;
    expect(created.body.template.id).toBe(atMeta.id);
    await expect
      .poll(async () => (await list(businessId, `?name=${name}`))[0]?.status, { timeout: 15_000 })
      .toBe('APPROVED');
  });

  it('shows a template Meta rejected as REJECTED with Meta’s reason', async () => {
    const { businessId } = await connected();
    await admin(
      'templates/review',
      { decision: 'REJECTED', reason: 'TAG_CONTENT_MISMATCH', namePrefix: 'flash_' },
      204,
    );
    const name = `flash_${suffix()}`;
    const created = await templatesApi(businessId, '', {
      method: 'POST',
      body: JSON.stringify({
        name,
        language: 'en_US',
        category: 'UTILITY',
        components: [{ type: 'BODY', text: 'Big news' }],
      }),
    });
    expect(created.status).toBe(201);
    await expect
      .poll(async () => (await list(businessId, `?name=${name}`))[0], { timeout: 15_000 })
      .toMatchObject({ status: 'REJECTED', rejectedReason: 'TAG_CONTENT_MISMATCH' });
  });

  it('answers Meta’s refusals as clear 4xx errors in Meta’s words', async () => {
    const { businessId } = await connected();
    const post = (body: unknown) => templatesApi(businessId, '', { method: 'POST', body: JSON.stringify(body) });
    const body = [{ type: 'BODY', text: 'Hello {{1}}' }];

    const badName = await post({ name: 'Order Update', language: 'en_US', category: 'UTILITY', components: body });
    expect(badName.status).toBe(400);
    expect(badName.body.error.code).toBe('template_invalid');
    expect(badName.body.error.message).toContain('lowercase letters, numbers and underscores');

    const badCategory = await post({ name: 'fine_name', language: 'en_US', category: 'PROMO', components: body });
    expect(badCategory.status).toBe(400);
    expect(badCategory.body.error).toMatchObject({ code: 'template_invalid' });
    expect(badCategory.body.error.message).toContain('Param category must be one of');

    const noBody = await post({
      name: 'no_body',
      language: 'en_US',
      category: 'UTILITY',
      components: [{ type: 'FOOTER', text: 'x' }],
    });
    expect(noBody.body.error).toMatchObject({ code: 'template_invalid' });
    expect(noBody.status).toBe(400);

    const duplicate = await post({ name: 'hello_world', language: 'en_US', category: 'UTILITY', components: body });
    expect(duplicate.status).toBe(409);
    expect(duplicate.body.error.code).toBe('template_exists');
    expect(duplicate.body.error.message).toContain('already English (US) content');
  });

  it('answers Meta’s outage as 503 and its rate limit as 429, each with Retry-After, and changes nothing', async () => {
    const { businessId, wabaId } = await connected();
    const post = () =>
      templatesApi(businessId, '', {
        method: 'POST',
        body: JSON.stringify({
          name: 'outage_check',
          language: 'en_US',
          category: 'UTILITY',
          components: [{ type: 'BODY', text: 'Hello {{1}}', example: { body_text: [['Ann']] } }],
        }),
      });
    const sandbox = stack.sandbox!.state;
    sandbox.addFault({
      operation: 'templates.create',
      status: 500,
      error: { code: 2, message: 'Service temporarily unavailable' },
    });
    const down = await post();
    expect(down.status).toBe(503);
    expect(down.body.error.code).toBe('meta_unavailable');
    expect(down.headers.get('retry-after')).toBe('30');

    sandbox.addFault({
      operation: 'templates.create',
      status: 429,
      error: { code: 80007, message: 'Rate limit issues' },
    });
    const limited = await post();
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe('meta_rate_limited');
    expect(limited.headers.get('retry-after')).toBe('60');
    expect(
      await stack.db('message_templates').where({ waba_id: wabaId, name: 'outage_check' }).first(),
    ).toBeUndefined();

    const retried = await post();
    expect(retried.status).toBe(201);
    expect(retried.body.template.status).toBe('PENDING');
  });

  it('deletes one language version by name and language, then every version by name', async () => {
    const { businessId, wabaId } = await connected();
    const name = `goodbye_${suffix()}`;
    for (const language of ['en_US', 'de']) {
      const created = await templatesApi(businessId, '', {
        method: 'POST',
        body: JSON.stringify({ name, language, category: 'UTILITY', components: [{ type: 'BODY', text: 'Bye' }] }),
      });
      expect(created.status).toBe(201);
    }
    const atMeta = () =>
      stack
        .sandbox!.state.templates.list(wabaId)
        .filter((t) => t.name === name)
        .map((t) => t.language)
        .sort();
    expect(atMeta()).toEqual(['de', 'en_US']);

    const one = await templatesApi(businessId, '?language=de', { method: 'DELETE' }, `/${name}`);
    expect(one.status).toBe(200);
    expect(one.body.deleted.map((t: any) => t.language)).toEqual(['de']);
    expect(atMeta()).toEqual(['en_US']);
    expect((await list(businessId, `?name=${name}`)).map((t) => t.language)).toEqual(['en_US']);

    const every = await templatesApi(businessId, '', { method: 'DELETE' }, `/${name}`);
    expect(every.status).toBe(200);
    expect(atMeta()).toEqual([]);
    expect(await list(businessId, `?name=${name}`)).toEqual([]);

    const again = await templatesApi(businessId, '', { method: 'DELETE' }, `/${name}`);
    expect(again.status).toBe(404);
    expect(again.body.error.code).toBe('template_not_found');
  });

  it('syncs once when one webhook names templates the catalogue does not know, and reads their components', async () => {
    const { businessId, wabaId } = await connected();
    const made = [1, 2, 3].map((i) =>
      stack.sandbox!.state.catalogue.addDirect(wabaId, {
        name: `made_in_manager_${i}`,
        language: 'en_US',
        category: 'UTILITY',
        status: 'APPROVED',
        qualityScore: 'UNKNOWN',
        components: [{ type: 'BODY', text: `Made in WhatsApp Manager ${i}` }],
      }),
    );
    const since = stack.sandbox!.state.calls().at(-1)?.seq ?? 0;
    const now = Math.floor(Date.now() / 1000);
    const res = await postWebhook(
      api,
      webhook(
        wabaId,
        now,
        made.map((t) => statusChange(t.id, t.name, 'APPROVED')),
      ),
    );
    expect(res.status).toBe(200);
    await expect
      .poll(async () => (await list(businessId, '?name=made_in_manager_3'))[0]?.components, { timeout: 45_000 })
      .toEqual([{ type: 'BODY', text: 'Made in WhatsApp Manager 3' }]);
    const template = (await list(businessId, '?name=made_in_manager_1'))[0];
    expect(template).toMatchObject({ status: 'APPROVED', category: 'UTILITY', id: made[0]!.id });
    await quietPeriod(1_500);
    expect(stack.sandbox!.state.calls({ since, operation: 'templates.list', objectId: wabaId })).toHaveLength(1);
  });

  it('keeps a status a webhook reported after the sync began', async () => {
    const { businessId, wabaId } = await connected(async (waba) => {
      await admin(`accounts/${waba}/templates`, { name: 'in_review', status: 'PENDING' });
    });
    const [pending] = await list(businessId, '?name=in_review');
    expect(pending.status).toBe('PENDING');
    // Meta approves it; its listing has not caught up (still PENDING) when the next sync reads it.
    const approvedAt = Math.floor(Date.now() / 1000) + 120;
    expect(
      (await postWebhook(api, webhook(wabaId, approvedAt, [statusChange(pending.id, 'in_review', 'APPROVED')]))).status,
    ).toBe(200);
    expect((await list(businessId, '?name=in_review'))[0].status).toBe('APPROVED');

    // A webhook for a template the catalogue lacks starts the next sync.
    const syncedBefore = (await synced(wabaId))!;
    const newcomer = (await admin(`accounts/${wabaId}/templates`, { name: 'newcomer' })).data[0];
    const now = Math.floor(Date.now() / 1000);
    await postWebhook(api, webhook(wabaId, now, [statusChange(newcomer.id, 'newcomer', 'APPROVED')]));
    await expect
      .poll(async () => ((await synced(wabaId))?.getTime() ?? 0) > syncedBefore.getTime(), { timeout: 15_000 })
      .toBe(true);
    expect(stack.sandbox!.state.templates.list(wabaId).find((t) => t.name === 'in_review')?.status).toBe('PENDING');
    expect((await list(businessId, '?name=in_review'))[0].status).toBe('APPROVED');
    expect((await list(businessId, '?name=newcomer'))[0].components).toEqual([
      { type: 'BODY', text: 'Hello {{1}} from newcomer' },
    ]);
  });

  it('syncs again with the daily token care, and marks a template Meta no longer lists as deleted', async () => {
    const { businessId, wabaId, integrationId } = await connected();
    expect(await list(businessId, '?name=order_update')).toHaveLength(1);
    const orderUpdate = stack.sandbox!.state.templates.list(wabaId).find((t) => t.name === 'order_update')!;
    stack.sandbox!.state.templates.remove(orderUpdate.id);
    const syncedBefore = (await synced(wabaId))!;
    await stack.client.schedule.getHandle(tokenScheduleId(integrationId)).trigger();
    await expect
      .poll(async () => ((await synced(wabaId))?.getTime() ?? 0) > syncedBefore.getTime(), { timeout: 20_000 })
      .toBe(true);
    expect(await list(businessId, '?name=order_update')).toEqual([]);
    expect(await list(businessId, '?name=hello_world')).toHaveLength(1);
  });
});
