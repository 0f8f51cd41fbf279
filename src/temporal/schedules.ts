// The per-integration token-care Schedules: created on connect, deleted on disconnect, reconciled
// against the database by the worker at start and by `npm run reconcile`. And the deployment's own
// Schedules (reconcile, retention), which every worker keeps up to date.
import { createHash } from 'node:crypto';
import {
  isGrpcServiceError,
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type Client,
} from '@temporalio/client';

const GRPC_NOT_FOUND = 5;
import type { Config } from '../config.js';
import { callTimeouts } from './timeouts.js';
import {
  reconcileScheduleId,
  refreshWorkflowId,
  retentionScheduleId,
  searchAttributes,
  taskQueueFor,
  TOKEN_SCHEDULE_PREFIX,
  tokenScheduleId,
  workflowTypes,
} from './names.js';

export interface TokenScheduleTarget {
  integrationId: string;
  businessId: string;
}

/** Jitter spreads checks a little further; the offset below does the heavy lifting. */
function jitterFor(intervalMs: number): number {
  return Math.min(Math.floor(intervalMs / 10), 60 * 60 * 1000);
}

/**
 * Intervals are aligned to the epoch: without an offset every integration's daily check would fire
 * at 00:00 UTC. A stable offset from the integration id spreads them evenly over the interval.
 */
function offsetFor(integrationId: string, intervalMs: number): number {
  return createHash('sha256').update(integrationId).digest().readUInt32BE(0) % intervalMs;
}

/**
 * When the integration's schedule next starts a check: the next instant of its interval (epoch
 * aligned, shifted by its offset) after `now`. Temporal adds up to `jitterFor(interval)` to it.
 */
export function nextTokenCheckAt(integrationId: string, intervalMs: number, now = Date.now()): Date {
  const offset = offsetFor(integrationId, intervalMs);
  const periods = Math.floor((now - offset) / intervalMs) + 1;
  return new Date(periods * intervalMs + offset);
}

function scheduleOptions(config: Config, target: TokenScheduleTarget) {
  const every = config.tokens.refreshIntervalMs;
  return {
    scheduleId: tokenScheduleId(target.integrationId),
    spec: { intervals: [{ every, offset: offsetFor(target.integrationId, every) }], jitter: jitterFor(every) },
    action: {
      type: 'startWorkflow' as const,
      workflowType: workflowTypes.refreshToken,
      args: [{ integrationId: target.integrationId, timeouts: callTimeouts(config) }],
      taskQueue: taskQueueFor(config.temporal.taskQueue, workflowTypes.refreshToken),
      workflowId: refreshWorkflowId(target.integrationId),
      workflowExecutionTimeout: '1h',
      typedSearchAttributes: [
        { key: searchAttributes.businessId, value: target.businessId },
        { key: searchAttributes.integrationId, value: target.integrationId },
      ],
    },
    policies: {
      // A check still running when the next is due: skip the new one.
      overlap: ScheduleOverlapPolicy.SKIP,
      // After an outage of the scheduler, run a missed check once if it is not too late.
      catchupWindow: '1h',
    },
    typedSearchAttributes: [
      { key: searchAttributes.businessId, value: target.businessId },
      { key: searchAttributes.integrationId, value: target.integrationId },
    ],
  };
}

type ScheduleOptions = Parameters<Client['schedule']['create']>[0] &
  Required<Pick<Parameters<Client['schedule']['create']>[0], 'policies'>>;

/** Creates the schedule, or brings an existing one up to date (spec, action, policies). */
async function createOrUpdate(client: Client, options: ScheduleOptions): Promise<'created' | 'updated'> {
  try {
    await client.schedule.create(options);
    return 'created';
  } catch (error) {
    if (!(error instanceof ScheduleAlreadyRunning)) throw error;
  }
  await client.schedule
    .getHandle(options.scheduleId)
    .update((previous) => ({ ...previous, spec: options.spec, action: options.action, policies: options.policies }));
  return 'updated';
}

/** Creates the schedule, or brings an existing one up to date (interval, task queue). */
export async function ensureTokenSchedule(
  client: Client,
  config: Config,
  target: TokenScheduleTarget,
): Promise<'created' | 'updated'> {
  const options = scheduleOptions(config, target);
  return createOrUpdate(client, options);
}

/**
 * Creates the schedule only where there is none: reconcile's repair. One that appeared since
 * reconcile listed the schedules (a connect landing meanwhile) is its creator's, and left as it is.
 */
export async function createMissingTokenSchedule(
  client: Client,
  config: Config,
  target: TokenScheduleTarget,
): Promise<'created' | 'exists'> {
  try {
    await client.schedule.create(scheduleOptions(config, target));
    return 'created';
  } catch (error) {
    if (error instanceof ScheduleAlreadyRunning) return 'exists';
    throw error;
  }
}

export async function deleteTokenSchedule(client: Client, integrationId: string): Promise<'deleted' | 'absent'> {
  try {
    await client.schedule.getHandle(tokenScheduleId(integrationId)).delete();
    return 'deleted';
  } catch (error) {
    if (error instanceof ScheduleNotFoundError) return 'absent';
    throw error;
  }
}

/**
 * Whether a token-care schedule belongs to this deployment: its workflows run on this deployment's
 * token queue. Deployments that share a namespace (each with its own base task queue) list each
 * other's schedules, and must never remove them.
 */
export async function isOwnTokenSchedule(client: Client, config: Config, integrationId: string): Promise<boolean> {
  // The raw description: another deployment encrypts its schedule's arguments with keys we do not
  // hold, so the decoded one would fail before it said whose schedule it is.
  try {
    const { schedule } = await client.workflowService.describeSchedule({
      namespace: client.options.namespace,
      scheduleId: tokenScheduleId(integrationId),
    });
    return (
      schedule?.action?.startWorkflow?.taskQueue?.name ===
      taskQueueFor(config.temporal.taskQueue, workflowTypes.refreshToken)
    );
  } catch (error) {
    if (isGrpcServiceError(error) && error.code === GRPC_NOT_FOUND) return false;
    throw error;
  }
}

/**
 * The codec key ids the token schedule's workflow arguments are encrypted under (raw description:
 * read without decoding), or null when there is no such schedule.
 */
export async function tokenScheduleArgKeyIds(client: Client, integrationId: string): Promise<string[] | null> {
  try {
    const { schedule } = await client.workflowService.describeSchedule({
      namespace: client.options.namespace,
      scheduleId: tokenScheduleId(integrationId),
    });
    return (schedule?.action?.startWorkflow?.input?.payloads ?? []).map((p) =>
      Buffer.from(p.metadata?.['encryption-key-id'] ?? []).toString(),
    );
  } catch (error) {
    if (isGrpcServiceError(error) && error.code === GRPC_NOT_FOUND) return null;
    throw error;
  }
}

/** Integration ids of every token-care schedule on the namespace. */
export async function listTokenSchedules(client: Client): Promise<string[]> {
  const ids: string[] = [];
  for await (const schedule of client.schedule.list({ pageSize: 1000 })) {
    if (schedule.scheduleId.startsWith(TOKEN_SCHEDULE_PREFIX))
      ids.push(schedule.scheduleId.slice(TOKEN_SCHEDULE_PREFIX.length));
  }
  return ids;
}

/** The deployment's own Schedules: the workflow each runs, its id, and how often. */
const DEPLOYMENT_SCHEDULES = {
  reconcile: { scheduleId: reconcileScheduleId, everyMs: (config: Config) => config.temporal.reconcileIntervalMs },
  retentionSweep: { scheduleId: retentionScheduleId, everyMs: (config: Config) => config.retention.sweepIntervalMs },
} as const;
type DeploymentSchedule = keyof typeof DEPLOYMENT_SCHEDULES;

/**
 * A Schedule of the deployment (its base task queue) that runs one maintenance workflow (reconcile,
 * the retention sweep), created or brought up to date by every worker at start. A run still going
 * when the next is due makes the next one skip.
 */
export async function ensureDeploymentSchedule(
  client: Client,
  config: Config,
  workflowType: DeploymentSchedule,
): Promise<'created' | 'updated'> {
  const schedule = DEPLOYMENT_SCHEDULES[workflowType];
  const scheduleId = schedule.scheduleId(config.temporal.taskQueue);
  return createOrUpdate(client, {
    scheduleId,
    spec: { intervals: [{ every: schedule.everyMs(config) }] },
    action: {
      type: 'startWorkflow' as const,
      workflowType,
      args: [],
      taskQueue: taskQueueFor(config.temporal.taskQueue, workflowType),
      workflowId: scheduleId,
      workflowExecutionTimeout: '1h',
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '10m' },
  });
}
