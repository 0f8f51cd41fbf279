import { randomUUID } from 'node:crypto';
import { ScheduleNotFoundError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reconcileSchedules } from '../src/services/reconcile.js';
import { ensureTokenSchedule, listTokenSchedules } from '../src/temporal/schedules.js';
import { tokenScheduleId } from '../src/temporal/names.js';
import { answerDialog, connectThroughMeta, followCallback, getStatus, startConnect } from './helpers/meta-flow.js';
import { authHeaders } from './helpers/jwt.js';
import { newBusinessId } from './helpers/factories.js';
import { startStack, type Stack } from './helpers/stack.js';

const DAY_MS = 86_400_000;

describe('token lifecycle', () => {
  let stack: Stack;
  let api: string;
  beforeAll(async () => {
    stack = await startStack({ api: true, sandbox: true, ownDatabase: true });
    api = stack.api!.url;
  });
  afterAll(() => stack?.close());

  async function connected(options: { embeddedSignup?: boolean } = {}) {
    const businessId = newBusinessId();
    let dialogUrl = await startConnect(api, businessId);
    if (options.embeddedSignup) {
      // The same dialog with a Facebook Login for Business configuration: Meta then issues a
      // business token that never expires.
      const url = new URL(dialogUrl);
      url.searchParams.delete('scope');
      url.searchParams.set('config_id', '999000111');
      dialogUrl = url.toString();
    }
    const landing = await followCallback(await answerDialog(dialogUrl, { decision: 'approve' }));
    expect(landing.searchParams.get('success')).toBe('true');
    const status = await getStatus(api, businessId);
    return { businessId, integrationId: status.integration.id as string, wabaId: status.accounts[0].wabaId as string };
  }

  const row = (integrationId: string) => stack.db('channel_integrations').where({ id: integrationId }).first();
  const schedule = (integrationId: string) => stack.client.schedule.getHandle(tokenScheduleId(integrationId));

  /** Triggers the integration's schedule now and waits for its check to be recorded. */
  async function runCheck(integrationId: string) {
    const before = (await row(integrationId))!.token_checked_at!.getTime();
    const since = stack.sandbox!.state.calls().at(-1)?.seq ?? 0;
    await schedule(integrationId).trigger();
    await expect
      .poll(async () => (await row(integrationId))!.token_checked_at!.getTime(), { timeout: 30_000, interval: 200 })
      .toBeGreaterThan(before);
    // The template catalogue's syncs (at connect, and started by the check) run beside token care.
    return stack
      .sandbox!.state.calls({ since })
      .map((c) => c.operation)
      .filter((operation) => !operation.startsWith('templates.'));
  }

  it('creates one daily schedule on connect, keeps one on reconnect, and deletes it on disconnect', async () => {
    const { businessId, integrationId, wabaId } = await connected();
    const description = await schedule(integrationId).describe();
    expect(description.spec.intervals?.[0]?.every).toBe(DAY_MS);
    expect(description.policies.overlap).toBe('SKIP');
    expect(description.action).toMatchObject({
      type: 'startWorkflow',
      workflowType: 'refreshToken',
      taskQueue: stack.config.temporal.taskQueue,
    });

    await connectThroughMeta(api, businessId, { decision: 'approve', account: wabaId });
    const schedules: string[] = [];
    for await (const s of stack.client.schedule.list())
      if (s.scheduleId === tokenScheduleId(integrationId)) schedules.push(s.scheduleId);
    expect(schedules).toHaveLength(1);

    const res = await fetch(`${api}/api/integrations/whatsapp/disconnect`, {
      method: 'DELETE',
      headers: await authHeaders(businessId),
    });
    expect(res.status).toBe(200);
    await expect(schedule(integrationId).describe()).rejects.toBeInstanceOf(ScheduleNotFoundError);
  });

  it('exchanges a token that is about to expire and stores the new one', async () => {
    const { businessId, integrationId, wabaId } = await connected();
    stack.sandbox!.state.setTokenExpiry(wabaId, 2 * 86_400);
    const before = (await row(integrationId))!.credentials!.accessToken;
    const calls = await runCheck(integrationId);
    expect(calls).toEqual(['debug_token', 'waba.subscriptions', 'oauth.fb_exchange']);
    const after = await row(integrationId);
    expect(after!.credentials!.accessToken).not.toBe(before);
    expect(after!.token_expires_at!.getTime() - Date.now()).toBeGreaterThan(55 * DAY_MS);
    const status = await getStatus(api, businessId);
    expect(status.integration.tokenHealth).toMatchObject({ state: 'ok', lastError: null });
  });

  it('reports expiring, with the date, when Meta will not extend the token', async () => {
    const { businessId, integrationId, wabaId } = await connected();
    stack.sandbox!.state.setExtendOnExchange(wabaId, false);
    stack.sandbox!.state.setTokenExpiry(wabaId, 3 * 86_400);
    const before = (await row(integrationId))!.credentials!.accessToken;
    await runCheck(integrationId);
    const status = await getStatus(api, businessId);
    expect(status.integration.tokenHealth.state).toBe('expiring');
    expect(Math.round((Date.parse(status.integration.tokenHealth.expiresAt) - Date.now()) / DAY_MS)).toBe(3);
    expect((await row(integrationId))!.credentials!.accessToken).toBe(before);
  });

  it('flags an invalidated token as needs_reauth, and a new connect repairs it in place', async () => {
    const { businessId, integrationId, wabaId } = await connected();
    stack.sandbox!.state.invalidateTokens(wabaId, 460);
    await runCheck(integrationId);
    let status = await getStatus(api, businessId);
    expect(status.connected).toBe(false);
    expect(status.integration.state).toBe('needs_reauth');
    expect(status.integration.tokenHealth.state).toBe('needs_reauth');

    await connectThroughMeta(api, businessId, { decision: 'approve', account: wabaId });
    status = await getStatus(api, businessId);
    expect(status.connected).toBe(true);
    expect(status.integration.id).toBe(integrationId);
    expect(status.integration.tokenHealth).toMatchObject({ state: 'ok', lastError: null });
    await expect(schedule(integrationId).describe()).resolves.toBeTruthy();
  });

  it('only checks a token that never expires', async () => {
    const { businessId, integrationId } = await connected({ embeddedSignup: true });
    expect((await row(integrationId))!.token_expires_at).toBeNull();
    const calls = await runCheck(integrationId);
    expect(calls).toEqual(['debug_token', 'waba.subscriptions']);
    expect((await getStatus(api, businessId)).integration.tokenHealth).toMatchObject({ state: 'ok', expiresAt: null });
  });

  it('retries a transient failure and shows a check that fails for good, without secrets', async () => {
    const { businessId, integrationId } = await connected();
    stack.sandbox!.state.addFault({ operation: 'debug_token', status: 503, times: 2 });
    await runCheck(integrationId);
    expect((await getStatus(api, businessId)).integration.tokenHealth).toMatchObject({ state: 'ok', lastError: null });

    stack.sandbox!.state.addFault({
      operation: 'debug_token',
      status: 400,
      error: { code: 100, message: 'Invalid parameter input_token' },
    });
    await runCheck(integrationId);
    const health = (await getStatus(api, businessId)).integration.tokenHealth;
    expect(health.state).toBe('ok');
    expect(health.lastError).toMatch(/^check failed: debug_token failed, HTTP 400, code 100/);
    expect(health.lastError).not.toMatch(/EAA/);
  });

  it('reconciles: restores a deleted schedule and removes an orphan', async () => {
    const { integrationId } = await connected();
    // Leftovers of a connect that died long ago.
    const dead = `connect/dead-${randomUUID()}`;
    await stack
      .db('token_staging')
      .insert({ connect_id: dead, kind: 'code', ciphertext: 'v1.x.y', purge_after: new Date(Date.now() - 1000) });
    await schedule(integrationId).delete();
    const orphan = randomUUID();
    await ensureTokenSchedule(stack.client, stack.config, { integrationId: orphan, businessId: 'gone' });
    // Another deployment on the same namespace (its own base task queue) has an integration we
    // do not know: its schedule is not ours to remove.
    const neighbour = randomUUID();
    const otherDeployment = { ...stack.config, temporal: { ...stack.config.temporal, taskQueue: 'neighbour-app' } };
    await ensureTokenSchedule(stack.client, otherDeployment, { integrationId: neighbour, businessId: 'theirs' });
    // Listing schedules goes through visibility, which catches up a moment after a create.
    await expect
      .poll(async () => {
        const listed = await listTokenSchedules(stack.client);
        return listed.includes(orphan) && listed.includes(neighbour);
      })
      .toBe(true);

    const report = await reconcileSchedules(stack.db, stack.client, stack.config);
    expect(report.created).toContain(integrationId);
    expect(report.removed).toContain(orphan);
    expect(report.purged.stagedSecrets).toBeGreaterThanOrEqual(1);
    expect(await stack.db('token_staging').where({ connect_id: dead })).toHaveLength(0);
    await expect(schedule(integrationId).describe()).resolves.toBeTruthy();
    await expect(schedule(orphan).describe()).rejects.toBeInstanceOf(ScheduleNotFoundError);
    expect(report.removed).not.toContain(neighbour);
    expect(report.foreign).toBeGreaterThanOrEqual(1);
    await expect(schedule(neighbour).describe()).resolves.toBeTruthy();
    await schedule(neighbour).delete();

    const again = await reconcileSchedules(stack.db, stack.client, stack.config);
    expect(again.purged).toEqual({ stagedSecrets: 0 });
    expect(again.created).not.toContain(integrationId);
    expect(again.removed).not.toContain(orphan);
  });
});
