// How the workflows run on Temporal: activity timeouts follow the settings, each kind of work has
// its own task queue, paging activities heartbeat, and reconcile runs as a Schedule.
import { randomUUID } from 'node:crypto';
import { ScheduleOverlapPolicy } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { ensureDeploymentSchedule, ensureTokenSchedule, listTokenSchedules } from '../src/temporal/schedules.js';
import { reconcileScheduleId, taskQueueFor, tokenScheduleId } from '../src/temporal/names.js';
import { workerPoolSize } from '../src/temporal/worker.js';
import { reconcileSchedules } from '../src/services/reconcile.js';
import { newBusinessId } from './helpers/factories.js';
import { connectThroughMeta, getStatus } from './helpers/meta-flow.js';
import { startStack, testEnv, type Stack } from './helpers/stack.js';

const seconds = (duration: { seconds?: unknown; nanos?: number | null } | null | undefined) =>
  Number(duration?.seconds ?? 0) + (duration?.nanos ?? 0) / 1e9;

describe('workflows on Temporal', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      api: true,
      sandbox: true,
      ownDatabase: true,
      env: { GRAPH_TIMEOUT_MS: '31000', REPLY_WEBHOOK_TIMEOUT_MS: '27000' },
    });
  });
  afterAll(() => stack?.close());

  async function connectExecution(businessId: string) {
    for await (const execution of stack.client.workflow.list({
      query: `WorkflowType = 'connectWhatsApp' AND WaBusinessId = '${businessId}'`,
    })) {
      return execution;
    }
    return undefined;
  }

  it('gives calls to Meta the time GRAPH_TIMEOUT_MS allows, and heartbeats where it pages', async () => {
    const businessId = newBusinessId();
    const run = await connectThroughMeta(stack.api!.url, businessId);
    expect(run.landing.searchParams.get('success')).toBe('true');
    await expect.poll(() => connectExecution(businessId), { timeout: 10_000 }).toBeTruthy();
    const execution = await connectExecution(businessId);
    expect(execution!.taskQueue).toBe(taskQueueFor(stack.config.temporal.taskQueue, 'connectWhatsApp'));
    const history = await stack.client.workflow.getHandle(execution!.workflowId).fetchHistory();
    const scheduled = new Map<string, { startToClose: number; heartbeat: number }>();
    for (const event of history.events ?? []) {
      const a = event.activityTaskScheduledEventAttributes;
      if (!a?.activityType?.name) continue;
      scheduled.set(a.activityType.name, {
        startToClose: seconds(a.startToCloseTimeout),
        heartbeat: seconds(a.heartbeatTimeout),
      });
    }
    // One Graph call per attempt: the configured 31 s plus a margin for the activity's own work.
    expect(scheduled.get('exchangeCode')?.startToClose).toBe(36);
    expect(scheduled.get('subscribeApp')?.startToClose).toBe(36);
    // Discovery pages: the heartbeat bounds one call, the attempt may run long.
    expect(scheduled.get('discoverAccounts')?.heartbeat).toBe(36);
    expect(scheduled.get('discoverAccounts')?.startToClose).toBeGreaterThanOrEqual(600);
  });

  it('runs token care with the configured timeouts on the maintenance queue', async () => {
    const businessId = newBusinessId();
    await connectThroughMeta(stack.api!.url, businessId);
    const status = await getStatus(stack.api!.url, businessId);
    const description = await stack.client.schedule.getHandle(tokenScheduleId(status.integration.id)).describe();
    expect(description.action).toMatchObject({
      workflowType: 'refreshToken',
      taskQueue: stack.config.temporal.taskQueue,
    });
    const action = description.action as { args?: unknown[] };
    expect(action.args?.[0]).toMatchObject({ timeouts: { graphMs: 31_000, responderMs: 27_000 } });
  });

  it('creates the reconcile Schedule once, skipping overlaps, and its run restores a lost token schedule', async () => {
    const businessId = newBusinessId();
    await connectThroughMeta(stack.api!.url, businessId);
    const { integration } = await getStatus(stack.api!.url, businessId);
    await stack.client.schedule.getHandle(tokenScheduleId(integration.id)).delete();

    expect(await ensureDeploymentSchedule(stack.client, stack.config, 'reconcile')).toBe('created');
    expect(await ensureDeploymentSchedule(stack.client, stack.config, 'reconcile')).toBe('updated');
    const handle = stack.client.schedule.getHandle(reconcileScheduleId(stack.config.temporal.taskQueue));
    try {
      const description = await handle.describe();
      expect(description.policies.overlap).toBe(ScheduleOverlapPolicy.SKIP);
      expect(description.action).toMatchObject({
        workflowType: 'reconcile',
        taskQueue: stack.config.temporal.taskQueue,
      });
      await handle.trigger();
      await expect
        .poll(
          () =>
            stack.client.schedule
              .getHandle(tokenScheduleId(integration.id))
              .describe()
              .then(
                () => true,
                () => false,
              ),
          { timeout: 20_000 },
        )
        .toBe(true);
    } finally {
      await handle.delete();
    }
  });

  it('never deletes the schedule of an integration that became active after reconcile read the list', async () => {
    const businessId = newBusinessId();
    await connectThroughMeta(stack.api!.url, businessId);
    const { integration } = await getStatus(stack.api!.url, businessId);
    const stray = randomUUID();
    await ensureTokenSchedule(stack.client, stack.config, { integrationId: stray, businessId: 'gone' });
    // Reconcile reads Temporal's schedule list, which shows a new schedule a moment after its creation.
    await expect
      .poll(async () => (await listTokenSchedules(stack.client)).includes(stray), { timeout: 20_000 })
      .toBe(true);
    // The integration looks inactive when reconcile reads the rows, and a reconnect lands right after.
    await stack.db('channel_integrations').where({ id: integration.id }).update({ is_active: false });
    let step = 0;
    const progress = async () => {
      step++;
      if (step === 2) await stack.db('channel_integrations').where({ id: integration.id }).update({ is_active: true });
    };
    const report = await reconcileSchedules(stack.db, stack.client, stack.config, { progress });
    expect(report.removed).toContain(stray);
    expect(report.removed).not.toContain(integration.id);
    await expect(stack.client.schedule.getHandle(tokenScheduleId(integration.id)).describe()).resolves.toBeTruthy();
  });

  it('sizes the worker’s database pool to its slots', () => {
    const config = loadConfig(
      testEnv({
        WORKER_MESSAGES_SLOTS: '20',
        WORKER_OUTBOUND_SLOTS: '3',
        WORKER_CONNECT_SLOTS: '4',
        WORKER_MAINTENANCE_SLOTS: '2',
      }),
      'worker',
    );
    // One connection per slot pair (an activity and a local activity), two spare.
    expect(workerPoolSize(config)).toBe(20 + 3 + 4 + 2 + 2);
  });
});
