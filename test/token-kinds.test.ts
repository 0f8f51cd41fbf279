// Tokens by kind: debug_token's type and expiry decide how each integration's token is cared for.
// A user token gets the plain fb_exchange_token; a 60-day system-user token of a Facebook Login for
// Business configuration is refreshed with set_token_expires_in_60_days before it expires; a
// business token that never expires is only checked. Status shows the kind and when care is next due.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokenScheduleId } from '../src/temporal/names.js';
import { answerDialog, followCallback, getStatus, startConnect } from './helpers/meta-flow.js';
import { newBusinessId } from './helpers/factories.js';
import { startStack, type Stack } from './helpers/stack.js';

const DAY_MS = 86_400_000;
const NEVER_EXPIRING_CONFIG = '930000000000001';
const SIXTY_DAY_CONFIG = '930000000000002';

describe('token kinds', () => {
  let stack: Stack;
  let api: string;
  beforeAll(async () => {
    stack = await startStack({ api: true, sandbox: true });
    api = stack.api!.url;
    stack.sandbox!.state.setConfigurationTokenExpiration(SIXTY_DAY_CONFIG, '60_days');
  });
  afterAll(() => stack?.close());

  /** Connects through Meta's dialog: with a configuration (Facebook Login for Business) or with scopes. */
  async function connected(configId?: string) {
    const businessId = newBusinessId();
    let dialogUrl = await startConnect(api, businessId);
    if (configId) {
      const url = new URL(dialogUrl);
      url.searchParams.delete('scope');
      url.searchParams.set('config_id', configId);
      dialogUrl = url.toString();
    }
    const landing = await followCallback(await answerDialog(dialogUrl, { decision: 'approve' }));
    expect(landing.searchParams.get('success')).toBe('true');
    const status = await getStatus(api, businessId);
    return { businessId, integrationId: status.integration.id as string, wabaId: status.accounts[0].wabaId as string };
  }

  const row = (integrationId: string) => stack.db('channel_integrations').where({ id: integrationId }).first();

  /** Triggers the integration's schedule now, waits for its check; answers the Meta calls it made. */
  async function runCheck(integrationId: string) {
    const before = (await row(integrationId))!.token_checked_at!.getTime();
    const since = stack.sandbox!.state.calls().at(-1)?.seq ?? 0;
    await stack.client.schedule.getHandle(tokenScheduleId(integrationId)).trigger();
    await expect
      .poll(async () => (await row(integrationId))!.token_checked_at!.getTime(), { timeout: 30_000, interval: 200 })
      .toBeGreaterThan(before);
    // The template catalogue's syncs (at connect, and started by the check) run beside token care.
    return stack.sandbox!.state.calls({ since }).filter((c) => !c.operation.startsWith('templates.'));
  }

  const daysFromNow = (iso: string) => Math.round((Date.parse(iso) - Date.now()) / DAY_MS);

  it('shows each kind of token in status, with when its care is next due', async () => {
    const user = await getStatus(api, (await connected()).businessId);
    const business = await getStatus(api, (await connected(NEVER_EXPIRING_CONFIG)).businessId);
    const systemUser = await getStatus(api, (await connected(SIXTY_DAY_CONFIG)).businessId);

    expect(user.integration.tokenHealth).toMatchObject({ state: 'ok', kind: 'user' });
    expect(business.integration.tokenHealth).toMatchObject({
      state: 'ok',
      kind: 'business_integration',
      expiresAt: null,
      refreshBy: null,
    });
    expect(systemUser.integration.tokenHealth).toMatchObject({ state: 'ok', kind: 'system_user' });

    for (const status of [user, systemUser]) {
      const health = status.integration.tokenHealth;
      expect(daysFromNow(health.expiresAt)).toBe(60);
      // A check renews it from TOKEN_EXPIRY_THRESHOLD_DAYS before it expires.
      expect(Date.parse(health.expiresAt) - Date.parse(health.refreshBy)).toBe(
        stack.config.tokens.expiryThresholdDays * DAY_MS,
      );
    }
    for (const status of [user, business, systemUser]) {
      const nextCheckAt = Date.parse(status.integration.tokenHealth.nextCheckAt);
      expect(nextCheckAt).toBeGreaterThan(Date.now());
      expect(nextCheckAt).toBeLessThanOrEqual(Date.now() + stack.config.tokens.refreshIntervalMs);
      // It is the schedule's own next run, before Temporal's jitter (at most an hour).
      const schedule = await stack.client.schedule.getHandle(tokenScheduleId(status.integration.id)).describe();
      const next = schedule.info.nextActionTimes[0]!.getTime();
      expect(next).toBeGreaterThanOrEqual(nextCheckAt);
      expect(next - nextCheckAt).toBeLessThanOrEqual(60 * 60_000);
    }
  });

  it('refreshes an expiring system-user token before it expires, with set_token_expires_in_60_days', async () => {
    const { businessId, integrationId, wabaId } = await connected(SIXTY_DAY_CONFIG);
    stack.sandbox!.state.setTokenExpiry(wabaId, 5 * 86_400);
    const before = (await row(integrationId))!.credentials!.accessToken;

    const calls = await runCheck(integrationId);
    expect(calls.map((c) => c.operation)).toEqual(['debug_token', 'waba.subscriptions', 'oauth.fb_exchange']);
    expect(calls.at(-1)).toMatchObject({ status: 200, setTokenExpiresIn60Days: true });

    const after = await row(integrationId);
    expect(after!.credentials!.accessToken).not.toBe(before);
    const health = (await getStatus(api, businessId)).integration.tokenHealth;
    expect(health).toMatchObject({ state: 'ok', kind: 'system_user', lastError: null });
    expect(daysFromNow(health.expiresAt)).toBe(60);

    // The new token is the one Meta now knows, 60 days out: the next check leaves it alone.
    const next = await runCheck(integrationId);
    expect(next.map((c) => c.operation)).toEqual(['debug_token', 'waba.subscriptions']);
  });

  it('only checks a business token that never expires', async () => {
    const { businessId, integrationId } = await connected(NEVER_EXPIRING_CONFIG);
    const before = (await row(integrationId))!.credentials!.accessToken;
    const calls = await runCheck(integrationId);
    expect(calls.map((c) => c.operation)).toEqual(['debug_token', 'waba.subscriptions']);
    expect((await row(integrationId))!.credentials!.accessToken).toBe(before);
    expect((await getStatus(api, businessId)).integration.tokenHealth).toMatchObject({
      state: 'ok',
      kind: 'business_integration',
      expiresAt: null,
    });
  });

  it('upgrades a user token with the plain fb_exchange_token, as before', async () => {
    const { businessId, integrationId, wabaId } = await connected();
    stack.sandbox!.state.setTokenExpiry(wabaId, 2 * 86_400);
    const calls = await runCheck(integrationId);
    expect(calls.at(-1)).toMatchObject({ operation: 'oauth.fb_exchange', setTokenExpiresIn60Days: false });
    const health = (await getStatus(api, businessId)).integration.tokenHealth;
    expect(health).toMatchObject({ state: 'ok', kind: 'user' });
    expect(daysFromNow(health.expiresAt)).toBe(60);
  });
});
