// Messaging limits, throughput and bans as Meta reports them in 2026: the messaging limit is the
// business portfolio's (whatsapp_business_manager_messaging_limit on each number from v24.0, and
// max_daily_conversations_per_business in phone_number_quality_update), the deprecated
// messaging_limit_tier is null, a THROUGHPUT_UPGRADE raises messages per second and never the
// limit, and DISABLED_UPDATE's ban_info shows on the account.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectedIntegration } from './helpers/connected.js';
import { getStatus } from './helpers/meta-flow.js';
import { startStack, type Stack } from './helpers/stack.js';
import { postWebhook } from './helpers/webhooks.js';
import { quietPeriod } from './helpers/waits.js';

interface NumberView {
  phoneNumberId: string;
  messagingLimitTier: string | null;
  whatsappBusinessManagerMessagingLimit: string | null;
  maxDailyConversationsPerBusiness: string | null;
  throughputLevel: string | null;
}

describe('messaging limits and account states', () => {
  let stack: Stack;
  let api: string;
  beforeAll(async () => {
    // The Graph API version whose numbers report the portfolio's limit.
    stack = await startStack({ api: true, sandbox: true, env: { META_GRAPH_API_VERSION: 'v24.0' } });
    api = stack.api!.url;
  });
  afterAll(() => stack?.close());

  async function connected() {
    const { businessId } = await connectedIntegration(stack);
    const status = await getStatus(api, businessId);
    return {
      businessId,
      wabaId: status.accounts[0].wabaId as string,
      phoneNumberIds: (status.accounts[0].phoneNumbers as NumberView[]).map((n) => n.phoneNumberId),
    };
  }
  const numbers = async (businessId: string): Promise<NumberView[]> =>
    (await getStatus(api, businessId)).accounts[0].phoneNumbers;
  const account = async (businessId: string) => (await getStatus(api, businessId)).accounts[0];

  it('reads the portfolio’s messaging limit at connect, with the deprecated tier null', async () => {
    const { businessId } = await connected();
    for (const number of await numbers(businessId)) {
      expect(number).toMatchObject({
        messagingLimitTier: null,
        whatsappBusinessManagerMessagingLimit: 'TIER_1K',
        maxDailyConversationsPerBusiness: null,
        throughputLevel: 'STANDARD',
      });
    }
    const calls = stack.sandbox!.state.calls({ operation: 'waba.phone_numbers' });
    expect(calls.at(-1)!.status).toBe(200);
  });

  it('applies a new portfolio limit to every number of the account', async () => {
    const { businessId, phoneNumberIds } = await connected();
    expect(phoneNumberIds.length).toBeGreaterThan(1);
    stack.sandbox!.state.setNumberQuality(phoneNumberIds[0]!, { messagingLimitTier: 'TIER_10K' });
    await expect
      .poll(async () => (await numbers(businessId)).map((n) => n.whatsappBusinessManagerMessagingLimit), {
        timeout: 20_000,
      })
      .toEqual(phoneNumberIds.map(() => 'TIER_10K'));
    for (const number of await numbers(businessId)) {
      expect(number).toMatchObject({ maxDailyConversationsPerBusiness: 'TIER_10K', messagingLimitTier: null });
    }
  });

  it('raises a number’s throughput on THROUGHPUT_UPGRADE and leaves its messaging limit alone', async () => {
    const { businessId, wabaId, phoneNumberIds } = await connected();
    const [upgraded, other] = phoneNumberIds;
    stack.sandbox!.state.upgradeThroughput(upgraded!);
    const find = async (id: string) => (await numbers(businessId)).find((n) => n.phoneNumberId === id)!;
    await expect.poll(async () => (await find(upgraded!)).throughputLevel, { timeout: 20_000 }).toBe('HIGH');
    expect(await find(upgraded!)).toMatchObject({
      whatsappBusinessManagerMessagingLimit: 'TIER_1K',
      maxDailyConversationsPerBusiness: null,
      messagingLimitTier: null,
    });
    expect((await find(other!)).throughputLevel).toBe('STANDARD');

    // The reference's full syntax: on this event TIER_UNLIMITED in either field means throughput.
    const display = (await getStatus(api, businessId)).accounts[0].phoneNumbers.find(
      (n: { phoneNumberId: string }) => n.phoneNumberId === other,
    ).displayPhoneNumber as string;
    const delivered = await postWebhook(api, {
      object: 'whatsapp_business_account',
      entry: [
        {
          id: wabaId,
          time: Math.floor(Date.now() / 1000),
          changes: [
            {
              value: {
                display_phone_number: display.replace(/\D/g, ''),
                event: 'THROUGHPUT_UPGRADE',
                current_limit: 'TIER_UNLIMITED',
                max_daily_conversations_per_business: 'TIER_UNLIMITED',
              },
              field: 'phone_number_quality_update',
            },
          ],
        },
      ],
    });
    expect(delivered.status).toBe(200);
    await expect
      .poll(async () => (await stack.db('account_events').where({ waba_id: wabaId })).length, { timeout: 20_000 })
      .toBe(2);
    await quietPeriod(1000);
    for (const number of await numbers(businessId)) {
      expect(number).toMatchObject({
        whatsappBusinessManagerMessagingLimit: 'TIER_1K',
        maxDailyConversationsPerBusiness: null,
        messagingLimitTier: null,
      });
    }
  });

  it('shows a scheduled disable, the disable and the reinstatement with Meta’s dates', async () => {
    const { businessId, wabaId } = await connected();
    const ban = (waba_ban_state: string, waba_ban_date: string) =>
      stack.sandbox!.state.emitAccountEvent({
        wabaId,
        field: 'account_update',
        event: 'DISABLED_UPDATE',
        value: { ban_info: { waba_ban_state, waba_ban_date } },
      });

    ban('SCHEDULE_FOR_DISABLE', 'December 9, 2026');
    await expect
      .poll(async () => (await account(businessId)).accountStatus.state, { timeout: 20_000 })
      .toBe('disable_scheduled');
    expect((await account(businessId)).ban).toEqual({ state: 'SCHEDULE_FOR_DISABLE', date: 'December 9, 2026' });

    ban('DISABLE', 'December 9, 2026');
    await expect
      .poll(async () => (await account(businessId)).accountStatus.state, { timeout: 20_000 })
      .toBe('disabled');
    expect((await account(businessId)).ban).toEqual({ state: 'DISABLE', date: 'December 9, 2026' });

    // Meta's documented example of a reinstatement, posted as Meta would.
    const reinstated = await postWebhook(api, {
      object: 'whatsapp_business_account',
      entry: [
        {
          id: wabaId,
          time: Math.floor(Date.now() / 1000),
          changes: [
            {
              value: {
                event: 'DISABLED_UPDATE',
                ban_info: { waba_ban_state: 'REINSTATE', waba_ban_date: 'April 17, 2025' },
              },
              field: 'account_update',
            },
          ],
        },
      ],
    });
    expect(reinstated.status).toBe(200);
    await expect.poll(async () => (await account(businessId)).accountStatus.state, { timeout: 20_000 }).toBe('ok');
    expect((await account(businessId)).ban).toEqual({ state: 'REINSTATE', date: 'April 17, 2025' });
  });
});
