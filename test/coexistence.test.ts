// Coexistence numbers (a WhatsApp Business app number onboarded to the Cloud API), over real HTTP
// against the sandbox: marked in status at Meta's fixed 20 messages/s, contacts and history asked
// for once each and retried durably, history stored once and never answered, the owner's echo
// pausing the bot, and offboarding stopping replies.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectedIntegration } from './helpers/connected.js';
import { getStatus } from './helpers/meta-flow.js';
import { authHeaders } from './helpers/jwt.js';
import { newBusinessId } from './helpers/factories.js';
import { startStack, TEST_SECRETS, type Stack } from './helpers/stack.js';
import { SANDBOX_APP_ID } from '../src/config.js';
import { businessAppSyncWorkflowId, taskQueueFor } from '../src/temporal/names.js';
import { popupResult, submitDialog } from './helpers/sandbox.js';
import { postWebhook } from './helpers/webhooks.js';
import { quietPeriod, untilTime } from './helpers/waits.js';

describe('coexistence numbers', () => {
  let stack: Stack;
  let api: string;
  beforeAll(async () => {
    stack = await startStack({ api: true, sandbox: true });
    api = stack.api!.url;
  });
  afterAll(() => stack?.close());

  const sandbox = () => stack.sandbox!.state;
  const call = async (businessId: string, method: string, path: string, body?: unknown) =>
    fetch(`${api}/api/integrations/whatsapp/${path}`, {
      method,
      headers: { ...(await authHeaders(businessId)), 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  /** A business connects a number that stays on the WhatsApp Business app, through Meta's dialog. */
  async function connectAppNumber(before?: (phoneNumberId: string) => void) {
    const account = sandbox().createAccount({ numbers: 1, coexistence: true });
    const phoneNumberId = account.phoneNumberIds[0]!;
    before?.(phoneNumberId);
    const { businessId } = await connectedIntegration(stack, { wabaId: account.wabaId });
    return { businessId, phoneNumberId, wabaId: account.wabaId };
  }
  const numberIn = async (businessId: string) => (await getStatus(api, businessId)).accounts[0].phoneNumbers[0];
  const syncCalls = (phoneNumberId: string) =>
    sandbox().calls({ operation: 'phone.smb_app_data', objectId: phoneNumberId });
  const bothSynced = async (businessId: string) => {
    const coexistence = (await numberIn(businessId)).coexistence;
    return [coexistence?.contactsSync?.state, coexistence?.historySync?.state];
  };
  const message = (wamid: string) => stack.db('messages').where({ wamid }).first();

  it('shows a WhatsApp Business app number as coexistence at 20/s and syncs contacts and history once each', async () => {
    const { businessId, phoneNumberId } = await connectAppNumber();
    await expect.poll(() => bothSynced(businessId), { timeout: 30_000 }).toEqual(['completed', 'completed']);
    const number = await numberIn(businessId);
    expect(number.sendRate).toEqual({ messagesPerSecond: 20 });
    expect(number.coexistence).toMatchObject({
      onboardedAt: expect.any(String),
      offboardedAt: null,
      contactsSync: { state: 'completed', requestedAt: expect.any(String), attempts: 1 },
      historySync: { state: 'completed', progress: 100, attempts: 1 },
    });
    const calls = syncCalls(phoneNumberId);
    expect(calls).toHaveLength(2);
    expect(calls.every((c) => c.status === 200)).toBe(true);

    // The owner's contacts name their customers.
    const app = stack.sandbox!.state.number(phoneNumberId).businessApp!;
    const saved = await stack.db('customers').whereIn(
      'phone',
      app.contacts.map((c) => c.phone),
    );
    expect(saved.map((c) => c.contact_name).sort()).toEqual(app.contacts.map((c) => c.fullName).sort());

    // The owner removes a contact in the app (Meta's documented shape): the name goes, the customer stays.
    const removed = app.contacts[0]!;
    const removal = {
      object: 'whatsapp_business_account',
      entry: [
        {
          id: stack.sandbox!.state.number(phoneNumberId).wabaId,
          changes: [
            {
              field: 'smb_app_state_sync',
              value: {
                messaging_product: 'whatsapp',
                metadata: { display_phone_number: '15550783881', phone_number_id: phoneNumberId },
                state_sync: [
                  {
                    type: 'contact',
                    contact: { phone_number: removed.phone },
                    action: 'remove',
                    metadata: { timestamp: String(Math.floor(Date.now() / 1000)) },
                  },
                ],
              },
            },
          ],
        },
      ],
    };
    expect((await postWebhook(api, removal)).status).toBe(200);
    expect(await stack.db('customers').whereIn('phone', [removed.phone]).first()).toMatchObject({ contact_name: null });

    // History: both directions, in their conversations, outside the line of turns, never answered.
    const ids = app.history.flatMap((t) => t.messages.map((m) => m.id));
    const stored = await stack.db('messages').whereIn('wamid', ids);
    expect(stored).toHaveLength(ids.length);
    expect(new Set(stored.map((m) => m.origin))).toEqual(new Set(['history']));
    expect(new Set(stored.map((m) => m.direction))).toEqual(new Set(['inbound', 'outbound']));
    expect(stored.every((m) => m.sequence === null && m.conversation_id !== null && m.status !== 'received')).toBe(
      true,
    );
    expect(
      await stack.db('workflow_starts').whereIn(
        'message_id',
        stored.map((m) => m.id),
      ),
    ).toHaveLength(0);

    // Meta delivers a history chunk again: nothing new is written, nothing is sent.
    const chunk = sandbox().webhooks({ field: 'history', phoneNumberId })[0]!;
    expect((await postWebhook(api, chunk.payload)).status).toBe(200);
    expect((await postWebhook(api, chunk.payload)).status).toBe(200);
    expect(await stack.db('messages').whereIn('wamid', ids)).toHaveLength(ids.length);
    await quietPeriod(1000);
    const customers = app.history.map((t) => t.customer);
    expect(
      sandbox()
        .calls({ operation: 'messages.send' })
        .filter((c) => customers.includes(c.to ?? '')),
    ).toEqual([]);

    // A number that is not on the app keeps the Cloud API's default pace.
    const plain = await connectedIntegration(stack);
    const other = await numberIn(plain.businessId);
    expect(other).toMatchObject({ coexistence: null, sendRate: { messagesPerSecond: 80 } });
  });

  it('connects an app number through the Embedded Signup popup and syncs it', async () => {
    const sandboxForDialog = {
      ...stack.sandbox!,
      appId: SANDBOX_APP_ID,
      appSecret: TEST_SECRETS.META_APP_SECRET,
      graph: (path: string) => `${stack.sandbox!.url}/v23.0/${path}`,
    };
    const res = await submitDialog(
      sandboxForDialog,
      {
        configId: '100000000000002',
        display: 'popup',
        origin: api,
        extras: { featureType: 'whatsapp_business_app_onboarding', sessionInfoVersion: '3' },
      },
      { decision: 'approve' },
    );
    const result = popupResult(await res.text());
    const session = result.sessionInfo as { event: string; data: Record<string, string> };
    expect(session.event).toBe('FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING');
    const businessId = newBusinessId();
    // The session event reaches the dashboard first, then the SDK's code.
    expect((await call(businessId, 'POST', 'embedded-signup/events', session)).status).toBe(204);
    const code = (result.response.authResponse as { code: string }).code;
    const connect = await call(businessId, 'POST', 'embedded-signup', {
      code,
      wabaId: session.data.waba_id,
      phoneNumberId: session.data.phone_number_id,
    });
    expect(connect.status).toBe(200);
    await expect.poll(() => bothSynced(businessId), { timeout: 30_000 }).toEqual(['completed', 'completed']);
    expect((await numberIn(businessId)).sendRate).toEqual({ messagesPerSecond: 20 });
    expect(syncCalls(session.data.phone_number_id!)).toHaveLength(2);
  });

  it('asks again, durably, when Meta fails a sync request, and never twice once accepted', async () => {
    const { businessId, phoneNumberId } = await connectAppNumber((id) =>
      sandbox().addFault({ operation: 'phone.smb_app_data', objectId: id, times: 1, status: 500 }),
    );
    await expect.poll(() => bothSynced(businessId), { timeout: 30_000 }).toEqual(['completed', 'completed']);
    const calls = syncCalls(phoneNumberId);
    expect(calls.filter((c) => c.faulted)).toHaveLength(1);
    expect(calls.filter((c) => c.status === 200)).toHaveLength(2);
    const { contactsSync, historySync } = (await numberIn(businessId)).coexistence;
    expect(contactsSync.attempts + historySync.attempts).toBe(3);
  });

  it('records `expired` instead of asking once the 24 hours are over, also while Meta keeps failing', async () => {
    const { businessId, phoneNumberId } = await connectedIntegration(stack);
    const row = (await stack.db('whatsapp_phone_numbers').where({ phone_number_id: phoneNumberId }).first())!;
    const { integration } = await getStatus(api, businessId);
    expect(integration.id).toBe(row.integration_id);
    // Onboarded 25 hours ago: the contacts' window is over; the history's ends in three seconds.
    await stack
      .db('whatsapp_phone_numbers')
      .where({ id: row.id })
      .update({ coexistence_onboarded_at: new Date(Date.now() - 25 * 3600_000) });
    await stack.db('business_app_syncs').insert([
      { phone_number_row_id: row.id, sync_type: 'smb_app_state_sync', deadline_at: new Date(Date.now() - 3600_000) },
      { phone_number_row_id: row.id, sync_type: 'history', deadline_at: new Date(Date.now() + 3_000) },
    ]);
    sandbox().addFault({ operation: 'phone.smb_app_data', objectId: phoneNumberId, times: 1000, status: 503 });
    const result = await stack.client.workflow.execute('syncBusinessAppData', {
      workflowId: businessAppSyncWorkflowId(row.id),
      taskQueue: taskQueueFor(stack.config.temporal.taskQueue, 'syncBusinessAppData'),
      args: [{ phoneNumberRowId: row.id }],
    });
    expect(result).toEqual({
      syncs: [
        { syncType: 'smb_app_state_sync', state: 'expired' },
        { syncType: 'history', state: 'expired' },
      ],
    });
    // Only the history was asked for, again and again until its deadline; never once accepted.
    const calls = syncCalls(phoneNumberId);
    expect(calls.length).toBeGreaterThan(1);
    expect(calls.every((c) => c.faulted)).toBe(true);
    const { contactsSync, historySync } = (await numberIn(businessId)).coexistence;
    expect([contactsSync.state, historySync.state]).toEqual(['expired', 'expired']);
    expect(historySync.attempts).toBe(calls.length);
    sandbox().clearFaults();
  });

  it('records a declined history share and marks a number the signup session names', async () => {
    const { businessId, phoneNumberId } = await connectAppNumber((id) => sandbox().setHistorySharing(id, false));
    await expect
      .poll(async () => (await numberIn(businessId)).coexistence.historySync, { timeout: 30_000 })
      .toMatchObject({ state: 'declined', lastError: expect.stringContaining('2593109') });
    expect(syncCalls(phoneNumberId)).toHaveLength(2);

    // Meta did not report is_on_biz_app, but the Embedded Signup session said so.
    const plain = await connectedIntegration(stack);
    const event = await call(plain.businessId, 'POST', 'embedded-signup/events', {
      type: 'WA_EMBEDDED_SIGNUP',
      event: 'FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING',
      data: { phone_number_id: plain.phoneNumberId, waba_id: '1', business_id: '2' },
    });
    expect(event.status).toBe(204);
    const number = await numberIn(plain.businessId);
    expect(number.sendRate).toEqual({ messagesPerSecond: 20 });
    expect(number.coexistence.onboardedAt).toEqual(expect.any(String));
    // The sandbox number is not really on the app: Meta refuses the requests, recorded as failed.
    await expect.poll(() => bothSynced(plain.businessId), { timeout: 30_000 }).toEqual(['failed', 'failed']);
  });

  it('stores the owner’s echo as outbound from the app and pauses the bot for the setting', async () => {
    const { businessId, phoneNumberId } = await connectAppNumber();
    const pauseMs = 4_000;
    const put = await call(businessId, 'PUT', 'settings', { botPauseAfterOwnerReplyMs: pauseMs });
    expect(((await put.json()) as { botPauseAfterOwnerReplyMs: number }).botPauseAfterOwnerReplyMs).toBe(pauseMs);
    const customer = '4917600012345';

    const echo = sandbox().sendOwnerEcho(phoneNumberId, customer, 'I will take this one myself.');
    await expect
      .poll(() => message(echo.messageId), { timeout: 20_000 })
      .toMatchObject({
        direction: 'outbound',
        origin: 'business_app',
        body: 'I will take this one myself.',
        sequence: null,
      });
    const conversation = await stack
      .db('conversations')
      .where({ id: (await message(echo.messageId))!.conversation_id! })
      .first();
    const pausedUntil = conversation!.bot_paused_until!.getTime();
    expect(pausedUntil).toBeGreaterThan(Date.now());

    // Within the pause: stored, closed `agent`, no automatic reply.
    const within = sandbox().sendCustomerMessage({ phoneNumberId, from: customer, type: 'text', text: 'hello?' });
    await expect.poll(async () => (await message(within.messageId))?.status, { timeout: 20_000 }).toBe('agent');
    expect(
      sandbox()
        .calls({ operation: 'messages.send' })
        .filter((c) => c.messageContextId === within.messageId),
    ).toEqual([]);

    // After it: the bot answers again.
    await untilTime(pausedUntil + 300);
    const after = sandbox().sendCustomerMessage({ phoneNumberId, from: customer, type: 'text', text: 'anyone?' });
    await expect.poll(async () => (await message(after.messageId))?.status, { timeout: 20_000 }).toBe('replied');
    expect(
      sandbox()
        .calls({ operation: 'messages.send' })
        .filter((c) => c.messageContextId === after.messageId),
    ).toHaveLength(1);

    // The same echo delivered again writes nothing new.
    const payload = sandbox().webhooks({ field: 'smb_message_echoes', phoneNumberId })[0]!.payload;
    expect((await postWebhook(api, payload)).status).toBe(200);
    expect(await stack.db('messages').where({ wamid: echo.messageId })).toHaveLength(1);
  });

  it('stops replying on a number Meta offboarded (ACCOUNT_OFFBOARDED)', async () => {
    const { businessId, phoneNumberId, wabaId } = await connectAppNumber();
    sandbox().emitAccountEvent({ wabaId, field: 'account_update', event: 'ACCOUNT_OFFBOARDED' });
    await expect
      .poll(async () => (await numberIn(businessId)).coexistence.offboardedAt, { timeout: 20_000 })
      .toEqual(expect.any(String));
    const sent = sandbox().sendCustomerMessage({ phoneNumberId, from: '4917600099999', type: 'text', text: 'hi' });
    await expect
      .poll(() => message(sent.messageId), { timeout: 20_000 })
      .toMatchObject({
        status: 'unanswered',
        error: { reason: 'offboarded' },
      });
    await quietPeriod(1000);
    expect(
      sandbox()
        .calls({ operation: 'messages.send' })
        .filter((c) => c.messageContextId === sent.messageId),
    ).toEqual([]);
  });
});
