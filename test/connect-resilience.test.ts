// The connect flow under faults that need a setup of their own: a worker killed mid-connect, a
// permanent failure after subscribing (compensation), and a connect still running when the callback
// stops waiting.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerDialog, connectThroughMeta, followCallback, getStatus, startConnect } from './helpers/meta-flow.js';
import { newBusinessId } from './helpers/factories.js';
import { spawnService, type ChildService } from './helpers/processes.js';
import { DASHBOARD_URL, startStack, type Stack } from './helpers/stack.js';

const PENDING = `${DASHBOARD_URL}/dashboard/integrations?pending=true&channel=whatsapp`;

describe('connect resilience', () => {
  let stack: Stack;
  let worker: ChildService;
  beforeAll(async () => {
    stack = await startStack({
      api: true,
      sandbox: true,
      worker: false,
      env: { CALLBACK_WAIT_MS: '300' },
    });
    worker = spawnService('worker', stack.env);
  });
  afterAll(async () => {
    await worker?.kill();
    await stack?.close();
  });

  it('completes a connect exactly once after its worker is killed mid-way', async () => {
    const businessId = newBusinessId();
    const sandbox = stack.sandbox!.state;
    const since = sandbox.calls().at(-1)?.seq ?? 0;
    // Meta hangs on the subscribe call, so the worker is killed while it waits.
    sandbox.addFault({ operation: 'waba.subscribe', hangMs: 60_000 });
    const callbackUrl = await answerDialog(await startConnect(stack.api!.url, businessId), { decision: 'approve' });
    expect((await followCallback(callbackUrl)).toString()).toBe(PENDING);
    await expect
      .poll(async () => (await getStatus(stack.api!.url, businessId)).connect?.step, { timeout: 20_000 })
      .toBe('subscribing_webhooks');

    await worker.kill('SIGKILL');
    worker = spawnService('worker', stack.env);

    await expect
      .poll(async () => (await getStatus(stack.api!.url, businessId)).connected, { timeout: 60_000, interval: 500 })
      .toBe(true);
    expect(sandbox.calls({ since, operation: 'oauth.code_exchange' })).toHaveLength(1);
    expect(await stack.db('channel_integrations').where({ business_id: businessId })).toHaveLength(1);
    const status = await getStatus(stack.api!.url, businessId);
    expect(status.accounts[0].phoneNumbers).toHaveLength(2);
    expect(sandbox.subscriptions(status.accounts[0].wabaId).subscribed).toBe(true);
    // The reloaded callback now lands on success.
    expect((await followCallback(callbackUrl)).toString()).toBe(
      `${DASHBOARD_URL}/dashboard/integrations?success=true&channel=whatsapp`,
    );
  }, 120_000);

  it('connects numbers that are not on the Cloud API yet, asking for their PIN instead of inventing one', async () => {
    const businessId = newBusinessId();
    const account = stack.sandbox!.state.createAccount({ registered: false });
    await connectThroughMeta(stack.api!.url, businessId, { decision: 'approve', account: account.wabaId });
    await expect
      .poll(async () => (await getStatus(stack.api!.url, businessId)).connected, { timeout: 30_000 })
      .toBe(true);
    expect(
      stack
        .sandbox!.state.calls({ operation: 'phone.register' })
        .filter((c) => account.phoneNumberIds.includes(c.objectId ?? '')),
    ).toHaveLength(0);
    const status = await getStatus(stack.api!.url, businessId);
    expect(status.accounts[0].phoneNumbers.map((n: any) => n.registration.state)).toEqual(['needs_pin', 'needs_pin']);
  });

  it('undoes the webhook subscription when a later step fails for good', async () => {
    const businessId = newBusinessId();
    const sandbox = stack.sandbox!.state;
    const account = sandbox.createAccount({ registered: false });
    // Meta holds the subscribe call; meanwhile another business connects the same number, so
    // saving fails (number_in_use) after our app was subscribed.
    sandbox.addFault({ operation: 'waba.subscribe', hangMs: 2_000, objectId: account.wabaId });
    await connectThroughMeta(stack.api!.url, businessId, { decision: 'approve', account: account.wabaId });
    await expect
      .poll(async () => (await getStatus(stack.api!.url, businessId)).connect?.step, { timeout: 20_000 })
      .toBe('subscribing_webhooks');
    const [other] = await stack
      .db('channel_integrations')
      .insert({
        business_id: newBusinessId('other'),
        channel: 'whatsapp',
        channel_name: 'WhatsApp',
        is_active: true,
        state: 'active',
      })
      .returning('id');
    const [otherAccount] = await stack
      .db('whatsapp_business_accounts')
      .insert({ integration_id: other!.id, waba_id: `9${Date.now()}` })
      .returning('id');
    await stack.db('whatsapp_phone_numbers').insert({
      integration_id: other!.id,
      account_id: otherAccount!.id,
      waba_id: `9${Date.now()}`,
      phone_number_id: account.phoneNumberIds[0]!,
      is_active: true,
    });
    await expect
      .poll(async () => (await getStatus(stack.api!.url, businessId)).connect?.state, { timeout: 30_000 })
      .toBe('failed');

    expect((await getStatus(stack.api!.url, businessId)).connect.error.code).toBe('number_in_use');
    expect(
      sandbox.calls({ operation: 'waba.subscribe', objectId: account.wabaId }).filter((c) => c.effect === 'applied'),
    ).toHaveLength(1);
    expect(sandbox.calls({ operation: 'waba.unsubscribe', objectId: account.wabaId })).toHaveLength(1);
    expect(sandbox.subscriptions(account.wabaId).subscribed).toBe(false);
    expect(await stack.db('channel_integrations').where({ business_id: businessId })).toHaveLength(0);
    const attempts = await stack.db('connect_attempts').where({ business_id: businessId });
    expect(
      await stack.db('token_staging').whereIn(
        'connect_id',
        attempts.map((a) => a.workflow_id),
      ),
    ).toHaveLength(0);
  });
});
