import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SelfCheckResult } from '../activities/store.js';
import { describeWebhookFields, webhookFieldsBlockingFailure } from '../src/commands/selfcheck.js';
import { SUBSCRIBABLE_FIELDS } from '../src/meta/webhook-fields.js';
import { selfCheckWorkflowId } from '../src/temporal/names.js';
import { startStack, type Stack } from './helpers/stack.js';

describe('SelfCheck workflow', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack?.close());

  it('runs on a real worker and writes through a real activity to PostgreSQL', async () => {
    const checkId = randomUUID();
    const result = await stack.client.workflow.execute('selfCheck', {
      taskQueue: stack.config.temporal.taskQueue,
      workflowId: selfCheckWorkflowId(checkId),
      args: [checkId],
    });
    const row = await stack.db('self_checks').where({ id: checkId }).first();
    expect(row).toBeDefined();
    expect(row!.worker_identity).toBe((result as { workerIdentity: string }).workerIdentity);
    expect(row!.worker_identity).toMatch(new RegExp(`^${process.pid}@`));
  });
});

describe('SelfCheck of the app webhook fields', () => {
  let stack: Stack;
  let sandbox: string;
  beforeAll(async () => {
    stack = await startStack({ sandbox: true });
    sandbox = stack.sandbox!.url;
  });
  afterAll(() => stack?.close());

  const run = async (): Promise<SelfCheckResult> => {
    const checkId = randomUUID();
    return (await stack.client.workflow.execute('selfCheck', {
      taskQueue: stack.config.temporal.taskQueue,
      workflowId: selfCheckWorkflowId(checkId),
      args: [checkId],
    })) as SelfCheckResult;
  };

  it("answers GET /{app-id}/subscriptions in Meta's documented shape, with every subscribable field", async () => {
    const url = new URL(`${sandbox}/v25.0/${stack.config.meta.appId}/subscriptions`);
    const res = await fetch(url, {
      headers: { authorization: `Bearer ${stack.config.meta.appId}|${stack.config.meta.appSecret}` },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { data: Array<Record<string, unknown>> };
    expect(body.data).toEqual([
      {
        object: 'whatsapp_business_account',
        callback_url: expect.any(String),
        active: true,
        fields: SUBSCRIBABLE_FIELDS.map((name) => ({ name, version: 'v25.0' })),
      },
    ]);
    const wrong = await fetch(url, { headers: { authorization: `Bearer ${stack.config.meta.appId}|wrong` } });
    expect(wrong.status).toBe(400);
  });

  it('finds nothing missing while the app has every field, and names a field removed at Meta', async () => {
    expect((await run()).webhookFields).toEqual({
      checked: true,
      object: 'whatsapp_business_account',
      active: true,
      missing: [],
    });

    for (const field of ['calls', 'message_template_status_update'])
      expect((await fetch(`${sandbox}/sandbox/app/subscriptions/fields/${field}`, { method: 'DELETE' })).status).toBe(
        200,
      );
    try {
      const result = await run();
      expect(result.webhookFields).toMatchObject({
        checked: true,
        missing: ['message_template_status_update', 'calls'],
      });
      // Meta sends nothing of a field the app dropped: the sandbox records it as skipped.
      const { wabaId } = stack.sandbox!.state.createAccount();
      const webhook = stack.sandbox!.state.emitAccountEvent({ wabaId, field: 'message_template_status_update' });
      expect(webhook.skipped).toBe('field_not_subscribed');
      expect(describeWebhookFields(result.webhookFields)).toBe(
        'webhook fields: the app is not subscribed to message_template_status_update, calls of whatsapp_business_account',
      );
      // A field we store (template statuses) fails the check; one we only acknowledge (calls) is
      // reported and fails nothing.
      expect(webhookFieldsBlockingFailure(result.webhookFields)).toBe(
        'Meta will not deliver message_template_status_update, which this service acts on',
      );
      await fetch(`${sandbox}/sandbox/app/subscriptions/fields/message_template_status_update`, { method: 'POST' });
      const onlyCalls = await run();
      expect(onlyCalls.webhookFields).toMatchObject({ checked: true, missing: ['calls'] });
      expect(webhookFieldsBlockingFailure(onlyCalls.webhookFields)).toBeNull();
    } finally {
      for (const field of ['calls', 'message_template_status_update'])
        await fetch(`${sandbox}/sandbox/app/subscriptions/fields/${field}`, { method: 'POST' });
    }
  });

  it('fails when Meta would not deliver a field this service acts on', async () => {
    try {
      await fetch(`${sandbox}/sandbox/app/subscriptions/fields/messages`, { method: 'DELETE' });
      const result = await run();
      expect(webhookFieldsBlockingFailure(result.webhookFields)).toBe(
        'Meta will not deliver messages, which this service acts on',
      );
    } finally {
      await fetch(`${sandbox}/sandbox/app/subscriptions/fields/messages`, { method: 'POST' });
    }
  });

  it('still passes, with a reason, when Meta cannot be asked', async () => {
    await stack.sandbox!.state.addFault({ operation: 'app.subscriptions', status: 500, times: 5 });
    const result = await run();
    expect(result.workerIdentity).toMatch(new RegExp(`^${process.pid}@`));
    expect(result.webhookFields).toMatchObject({ checked: false, reason: expect.any(String) });
    expect(JSON.stringify(result)).not.toContain(stack.config.meta.appSecret);
  });
});
