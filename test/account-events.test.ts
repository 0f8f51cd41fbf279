// Meta's account events keep status truthful: removals end the integration, restrictions and
// quality or name reviews show up, each event applied once; the health check restores a lost
// webhook subscription.
import { ScheduleNotFoundError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokenScheduleId } from '../src/temporal/names.js';
import { connectedIntegration } from './helpers/connected.js';
import { getStatus } from './helpers/meta-flow.js';
import { startStack, type Stack } from './helpers/stack.js';
import { postWebhook } from './helpers/webhooks.js';
import { quietPeriod } from './helpers/waits.js';

describe('account events', () => {
  let stack: Stack;
  let api: string;
  beforeAll(async () => {
    stack = await startStack({ api: true, sandbox: true });
    api = stack.api!.url;
  });
  afterAll(() => stack?.close());

  async function connected() {
    const { businessId } = await connectedIntegration(stack);
    const status = await getStatus(api, businessId);
    return {
      businessId,
      integrationId: status.integration.id as string,
      wabaId: status.accounts[0].wabaId as string,
      phoneNumberId: status.accounts[0].phoneNumbers[0].phoneNumberId as string,
    };
  }
  const payloadOf = (webhookId: number) =>
    stack.sandbox!.state.webhooks().find((w) => w.webhookId === webhookId)!.payload;
  const eventsFor = (wabaId: string) => stack.db('account_events').where({ waba_id: wabaId });

  it('shows a restriction once, however often Meta delivers it', async () => {
    const { businessId, wabaId } = await connected();
    const { webhookId } = stack.sandbox!.state.emitAccountEvent({
      wabaId,
      field: 'account_update',
      event: 'ACCOUNT_RESTRICTION',
    });
    await expect
      .poll(async () => (await getStatus(api, businessId)).accounts[0].accountStatus.state, { timeout: 20_000 })
      .toBe('restricted');
    const first = (await getStatus(api, businessId)).accounts[0].accountStatus;
    expect(first.detail).toMatchObject({ event: 'ACCOUNT_RESTRICTION', restriction_info: expect.any(Array) });

    expect((await postWebhook(api, payloadOf(webhookId))).status).toBe(200);
    expect((await postWebhook(api, payloadOf(webhookId))).status).toBe(200);
    await quietPeriod(1500);
    expect(await eventsFor(wabaId)).toHaveLength(1);
    expect((await getStatus(api, businessId)).accounts[0].accountStatus).toEqual(first);
  });

  it('updates a number’s quality, limit and display name from Meta’s reviews', async () => {
    const { businessId, phoneNumberId } = await connected();
    stack.sandbox!.state.setNumberQuality(phoneNumberId, { qualityRating: 'YELLOW', messagingLimitTier: 'TIER_250' });
    const number = async () =>
      (await getStatus(api, businessId)).accounts[0].phoneNumbers.find(
        (n: { phoneNumberId: string }) => n.phoneNumberId === phoneNumberId,
      );
    await expect
      .poll(async () => (await number()).whatsappBusinessManagerMessagingLimit, { timeout: 20_000 })
      .toBe('TIER_250');
    expect((await number()).messagingLimitTier).toBeNull();
    await expect.poll(async () => (await number()).qualityRating, { timeout: 20_000 }).toBe('YELLOW');

    stack.sandbox!.state.setNameDecision(phoneNumberId, { decision: 'APPROVED', requestedVerifiedName: 'Acme Bakery' });
    await expect.poll(async () => (await number()).verifiedName, { timeout: 20_000 }).toBe('Acme Bakery');
    expect((await number()).nameStatus).toBe('APPROVED');
  });

  it('ends the integration when the business uninstalls the app: no schedule, no token, no replies', async () => {
    const { businessId, integrationId, wabaId, phoneNumberId } = await connected();
    stack.sandbox!.state.uninstallApp(wabaId);
    await expect
      .poll(async () => (await getStatus(api, businessId)).integration.state, { timeout: 20_000 })
      .toBe('removed');
    const status = await getStatus(api, businessId);
    expect(status.connected).toBe(false);
    expect(status.integration).toMatchObject({
      inactiveReason: 'PARTNER_APP_UNINSTALLED',
      inactiveSince: expect.any(String),
    });
    await expect
      .poll(async () => (await stack.db('channel_integrations').where({ id: integrationId }).first())!.credentials, {
        timeout: 20_000,
      })
      .toBeNull();
    await expect(stack.client.schedule.getHandle(tokenScheduleId(integrationId)).describe()).rejects.toBeInstanceOf(
      ScheduleNotFoundError,
    );

    // A message that still arrives is stored as ignored and never answered.
    const { payload, messageIds } = stack.sandbox!.state.composeCustomerMessages([
      { phoneNumberId, from: '4912300001', type: 'text', text: 'hello?' },
    ]);
    expect((await postWebhook(api, payload)).status).toBe(200);
    await expect
      .poll(async () => (await stack.db('messages').where({ wamid: messageIds[0] }).first())?.status, {
        timeout: 20_000,
      })
      .toBe('ignored');
    expect(
      stack.sandbox!.state.calls({ operation: 'messages.send' }).filter((c) => c.messageContextId === messageIds[0]),
    ).toHaveLength(0);
  });

  it('never lets an uninstall older than the connect remove the integration (a late redelivery)', async () => {
    const { businessId, integrationId, wabaId } = await connected();
    const anHourAgo = Math.floor(Date.now() / 1000) - 3600;
    const wabaInfo = { waba_id: wabaId, owner_business_id: '1', partner_app_id: stack.config.meta.appId };
    const value = { event: 'PARTNER_APP_UNINSTALLED', waba_info: wabaInfo };
    const entry = { id: '1', time: anHourAgo, changes: [{ field: 'account_update', value }] };
    const payload = { object: 'whatsapp_business_account', entry: [entry] };
    expect((await postWebhook(api, payload)).status).toBe(200);
    await expect.poll(async () => (await eventsFor(wabaId)).length, { timeout: 20_000 }).toBe(1);
    await expect
      .poll(async () => (await eventsFor(wabaId))[0]?.applied_to, { timeout: 20_000 })
      .toEqual({ kind: 'removed', integrationIds: [] });
    const status = await getStatus(api, businessId);
    expect(status.connected).toBe(true);
    expect(status.integration.id).toBe(integrationId);
    await expect(stack.client.schedule.getHandle(tokenScheduleId(integrationId)).describe()).resolves.toBeTruthy();
  });

  it('restores a lost webhook subscription in the scheduled health check', async () => {
    const { businessId, integrationId, wabaId } = await connected();
    stack.sandbox!.state.removeSubscriptions(wabaId);
    expect(stack.sandbox!.state.subscriptions(wabaId).subscribed).toBe(false);
    await stack.client.schedule.getHandle(tokenScheduleId(integrationId)).trigger();
    await expect.poll(() => stack.sandbox!.state.subscriptions(wabaId).subscribed, { timeout: 30_000 }).toBe(true);
    await expect
      .poll(async () => (await getStatus(api, businessId)).accounts[0].webhookSubscription.state, { timeout: 10_000 })
      .toBe('restored');
  });
});
