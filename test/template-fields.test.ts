// Meta's template webhooks and user_preferences over real HTTP, from the sandbox's admin routes
// to PostgreSQL: each event stored once however often Meta delivers it, each template's latest
// status, category and quality, a customer's marketing preference that an older report never
// overturns, and nothing ever answered.
import { randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectedIntegration } from './helpers/connected.js';
import { getStatus } from './helpers/meta-flow.js';
import { startStack, type Stack } from './helpers/stack.js';
import { postWebhook } from './helpers/webhooks.js';

const TEMPLATE_FIELDS = [
  'message_template_status_update',
  'template_category_update',
  'message_template_quality_update',
];

describe('template and user preference webhooks', () => {
  let stack: Stack;
  let api: string;
  let sandbox: string;
  let metrics: string;
  beforeAll(async () => {
    stack = await startStack({ api: true, sandbox: true, env: { METRICS_PORT: '0' } });
    api = stack.api!.url;
    sandbox = stack.sandbox!.url;
    metrics = `${stack.api!.metricsUrl}/metrics`;
  });
  afterAll(() => stack?.close());

  async function connected() {
    const { businessId } = await connectedIntegration(stack);
    const status = await getStatus(api, businessId);
    return {
      businessId,
      wabaId: status.accounts[0].wabaId as string,
      phoneNumberId: status.accounts[0].phoneNumbers[0].phoneNumberId as string,
    };
  }

  async function admin(path: string, body: unknown): Promise<Record<string, any>> {
    const res = await fetch(`${sandbox}/sandbox/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(res.status, path).toBe(202);
    return (await res.json()) as Record<string, any>;
  }

  /** Waits until the sandbox's delivery got a 200, then delivers the same body twice more. */
  async function deliveredThrice(webhookId: number): Promise<void> {
    await expect.poll(() => stack.sandbox!.state.webhooks({ webhookId })[0]?.delivered, { timeout: 15_000 }).toBe(true);
    const { payload, skipped } = stack.sandbox!.state.webhooks({ webhookId })[0]!;
    expect(skipped).toBeUndefined();
    for (let i = 0; i < 2; i++) expect((await postWebhook(api, payload)).status).toBe(200);
  }

  async function processedCount(field: string): Promise<number> {
    const text = await (await fetch(metrics)).text();
    const match = text.match(
      new RegExp(`^waconnect_webhook_fields_total\\{field="${field}",processed="true"\\} (\\d+)`, 'm'),
    );
    return Number(match?.[1] ?? 0);
  }

  const outbound = (businessId: string) =>
    stack
      .db('messages')
      .where({ business_id: businessId, direction: 'outbound' })
      .count<[{ count: string }]>('* as count');
  const phone = () => `49151${randomInt(10_000_000, 99_999_999)}`;
  /** A customer who wrote two days ago: the sandbox knows them, and the message closes unanswered at once. */
  async function customerWrote(phoneNumberId: string, from: string): Promise<void> {
    await admin('customers/messages', {
      phoneNumberId,
      from,
      text: 'hello from last week',
      timestamp: Math.floor(Date.now() / 1000) - 2 * 86_400,
    });
  }

  it('keeps each template event once however often Meta delivers it, and the template’s latest state', async () => {
    const { businessId, wabaId } = await connected();
    const before = await Promise.all(TEMPLATE_FIELDS.map(processedCount));

    const approved = await admin(`accounts/${wabaId}/templates/status`, {
      event: 'APPROVED',
      name: 'order_update',
      language: 'en_US',
      category: 'UTILITY',
    });
    const templateId = approved.templateId as string;
    await deliveredThrice(approved.webhookId);
    const announced = await admin(`accounts/${wabaId}/templates/category`, {
      templateId,
      category: 'MARKETING',
      impending: true,
    });
    await deliveredThrice(announced.webhookId);
    const quality = await admin(`accounts/${wabaId}/templates/quality`, { templateId, qualityScore: 'YELLOW' });
    await deliveredThrice(quality.webhookId);
    const recategorised = await admin(`accounts/${wabaId}/templates/category`, { templateId, category: 'MARKETING' });
    await deliveredThrice(recategorised.webhookId);
    const paused = await admin(`accounts/${wabaId}/templates/status`, {
      templateId,
      event: 'PAUSED',
      otherInfo: { title: 'FIRST_PAUSE', description: 'Your WhatsApp message template has been paused.' },
    });
    await deliveredThrice(paused.webhookId);

    const events = await stack
      .db('template_events')
      .where({ waba_id: wabaId, message_template_id: templateId })
      .orderBy('id');
    expect(events.map((e) => [e.field, e.event, e.new_category, e.correct_category, e.new_quality_score])).toEqual([
      ['message_template_status_update', 'APPROVED', null, null, null],
      ['template_category_update', null, 'UTILITY', 'MARKETING', null],
      ['message_template_quality_update', null, null, null, 'YELLOW'],
      ['template_category_update', null, 'MARKETING', null, null],
      ['message_template_status_update', 'PAUSED', null, null, null],
    ]);
    expect(events[0]).toMatchObject({ name: 'order_update', language: 'en_US', reason: 'NONE', category: 'UTILITY' });
    expect(events[1]!.category_update_at).toBeInstanceOf(Date);
    expect(events[2]).toMatchObject({ previous_quality_score: 'UNKNOWN' });
    expect(events[3]).toMatchObject({ previous_category: 'UTILITY' });
    expect(events[4]!.other_info).toEqual({
      title: 'FIRST_PAUSE',
      description: 'Your WhatsApp message template has been paused.',
    });
    expect(events[4]!.value).toMatchObject({ event: 'PAUSED', message_template_id: Number(templateId) });

    // The account's other templates (the catalogue's sync keeps them too) are not this test's.
    expect(await stack.db('message_templates').where({ waba_id: wabaId, message_template_id: templateId })).toEqual([
      expect.objectContaining({
        message_template_id: templateId,
        name: 'order_update',
        language: 'en_US',
        status: 'PAUSED',
        last_event: 'PAUSED',
        category: 'MARKETING',
        pending_category: null,
        quality_score: 'YELLOW',
      }),
    ]);

    // Five changes, each delivered three times: every delivery counted as processed.
    const after = await Promise.all(TEMPLATE_FIELDS.map(processedCount));
    expect(after.map((n, i) => n - before[i]!)).toEqual([6, 6, 3]);
    expect(Number((await outbound(businessId))[0]?.count)).toBe(0);
    expect(await stack.db('messages').where({ business_id: businessId })).toHaveLength(0);
  });

  it('keeps no template events of an account this service never connected', async () => {
    const stranger = String(randomInt(100_000_000, 999_999_999));
    const res = await postWebhook(api, {
      object: 'whatsapp_business_account',
      entry: [
        {
          id: stranger,
          time: Math.floor(Date.now() / 1000),
          changes: [
            {
              field: 'message_template_status_update',
              value: {
                event: 'APPROVED',
                message_template_id: 1689556908129832,
                message_template_name: 'order_confirmation',
                message_template_language: 'en-US',
                reason: 'NONE',
                message_template_category: 'MARKETING',
              },
            },
          ],
        },
      ],
    });
    expect(res.status).toBe(200);
    expect(await stack.db('template_events').where({ waba_id: stranger })).toHaveLength(0);
    expect(await stack.db('message_templates').where({ waba_id: stranger })).toHaveLength(0);
  });

  it('keeps a stop when an older resume arrives after it, and takes a newer resume', async () => {
    const { businessId, phoneNumberId } = await connected();
    const from = phone();
    await customerWrote(phoneNumberId, from);
    const customer = () => stack.db('customers').where({ business_id: businessId, phone: from }).first();
    await expect.poll(async () => (await customer())?.id, { timeout: 15_000 }).toBeDefined();
    const before = await processedCount('user_preferences');

    const stoppedAt = Math.floor(Date.now() / 1000) - 60;
    const stop = await admin('customers/preferences', { phoneNumberId, from, value: 'stop', timestamp: stoppedAt });
    await deliveredThrice(stop.webhookId);
    expect(await customer()).toMatchObject({
      marketing_preference: 'stopped',
      marketing_preference_at: new Date(stoppedAt * 1000),
      marketing_preference_phone_number_id: phoneNumberId,
    });

    const older = await admin('customers/preferences', {
      phoneNumberId,
      from,
      value: 'resume',
      timestamp: stoppedAt - 30,
    });
    await deliveredThrice(older.webhookId);
    expect(await customer()).toMatchObject({
      marketing_preference: 'stopped',
      marketing_preference_at: new Date(stoppedAt * 1000),
    });

    const newer = await admin('customers/preferences', {
      phoneNumberId,
      from,
      value: 'resume',
      timestamp: stoppedAt + 30,
    });
    await expect.poll(async () => (await customer())?.marketing_preference, { timeout: 15_000 }).toBe('resumed');

    expect((await processedCount('user_preferences')) - before).toBeGreaterThanOrEqual(7);
    expect(stack.sandbox!.state.webhooks({ webhookId: newer.webhookId })[0]!.payload).toMatchObject({
      entry: [{ changes: [{ field: 'user_preferences', value: { user_preferences: [{ wa_id: from }] } }] }],
    });
    // One customer, never answered: the only message is the customer's own, closed unanswered.
    expect(await stack.db('customers').where({ business_id: businessId })).toHaveLength(1);
    expect(Number((await outbound(businessId))[0]?.count)).toBe(0);
    expect((await stack.db('messages').where({ business_id: businessId })).map((m) => m.status)).toEqual([
      'unanswered',
    ]);
  });

  it('finds a customer known only by BSUID', async () => {
    const { businessId, phoneNumberId } = await connected();
    const from = phone();
    // A username user: Meta withholds the phone number, so we know them by BSUID alone.
    stack.sandbox!.state.sendCustomerMessage({
      phoneNumberId,
      from,
      username: '@sandbox.shopper',
      text: 'hello',
      timestamp: Math.floor(Date.now() / 1000) - 2 * 86_400,
    });
    const bsuid = stack
      .sandbox!.state.customerList()
      .find((c) => c.phoneNumberId === phoneNumberId && c.waId === from)!.bsuid;
    const customer = () => stack.db('customers').where({ business_id: businessId, bsuid }).first();
    await expect.poll(async () => (await customer())?.id, { timeout: 15_000 }).toBeDefined();
    expect((await customer())!.phone).toBeNull();

    const stop = await admin('customers/preferences', { phoneNumberId, from, value: 'stop' });
    await deliveredThrice(stop.webhookId);
    const sent = stack.sandbox!.state.webhooks({ webhookId: stop.webhookId })[0]!.payload as any;
    expect(sent.entry[0].changes[0].value.user_preferences[0]).not.toHaveProperty('wa_id');
    expect(await customer()).toMatchObject({ marketing_preference: 'stopped', phone: null });
    expect(await stack.db('customers').where({ business_id: businessId })).toHaveLength(1);
    expect(Number((await outbound(businessId))[0]?.count)).toBe(0);
  });

  it('creates the customer a preference is about when they are new to us', async () => {
    const { businessId, wabaId, phoneNumberId } = await connected();
    const waId = phone();
    // Meta's documented user_preferences example, for this number.
    const res = await postWebhook(api, {
      object: 'whatsapp_business_account',
      entry: [
        {
          id: wabaId,
          changes: [
            {
              value: {
                messaging_product: 'whatsapp',
                metadata: { display_phone_number: '15550783881', phone_number_id: phoneNumberId },
                contacts: [{ profile: { name: 'Sheena Nelson' }, wa_id: waId }],
                user_preferences: [
                  {
                    wa_id: waId,
                    detail: 'User requested to stop marketing messages',
                    category: 'marketing_messages',
                    value: 'stop',
                    timestamp: 1739321024,
                  },
                ],
              },
              field: 'user_preferences',
            },
          ],
        },
      ],
    });
    expect(res.status).toBe(200);
    expect(await stack.db('customers').where({ business_id: businessId })).toEqual([
      expect.objectContaining({
        phone: waId,
        profile_name: 'Sheena Nelson',
        marketing_preference: 'stopped',
        marketing_preference_at: new Date(1739321024 * 1000),
      }),
    ]);
    expect(await stack.db('conversations').where({ business_id: businessId })).toHaveLength(0);
    expect(await stack.db('messages').where({ business_id: businessId })).toHaveLength(0);
  });
});
