// Turns a verified webhook into durable work: one PostgreSQL transaction stores every item and the
// workflow starts it implies (the outbox); the webhook is answered once that commits. Temporal is
// not on that path: the starts follow right after the commit, and whatever they miss (Temporal
// away, the API killed in between) the workers' outbox drain starts.
import type { Client } from '@temporalio/client';
import type { Config } from '../config.js';
import type { Db } from '../db.js';
import type { Logger } from '../logger.js';
import { callTimeouts } from '../temporal/timeouts.js';
import type { ApiMetrics } from '../metrics.js';
import type { ParsedWebhook } from '../meta/webhook-payload.js';
import { intakeWebhook, type IntakeNames, type IntakeResult } from '../store/intake.js';
import { activeMessageRuns, markDone, markStarted, type PendingStart } from '../store/outbox.js';
import {
  accountEventWorkflowId,
  MESSAGE_WORKFLOW_ID_PREFIX,
  RERUNNABLE_WORKFLOW_TYPES,
  searchAttributes,
  templateSyncStart,
  workflowTypes,
  type WorkflowType,
} from '../temporal/names.js';
import { startWorkflow, type StartCounter } from '../temporal/start.js';

export interface WebhookDeps {
  config: Config;
  db: Db;
  temporal: Client;
  metrics: ApiMetrics;
  log: Logger;
}

/** How long a start may wait for Temporal before it is left to the drain. */
const START_DEADLINE_MS = 5_000;

export function intakeNames(config: Config): IntakeNames {
  const timeouts = callTimeouts(config);
  return {
    taskQueue: config.temporal.taskQueue,
    messageWorkflowType: workflowTypes.handleInboundMessage,
    messageWorkflowIdPrefix: MESSAGE_WORKFLOW_ID_PREFIX,
    accountEventWorkflowType: workflowTypes.recordAccountEvent,
    accountEventWorkflowId,
    accountEventArgs: (event) => [event, { timeouts }],
    templateSync: templateSyncStart(config.temporal.taskQueue),
  };
}

export type StartResult = 'started' | 'duplicate' | 'completed';

/** Starts one outbox row's workflow. Search attributes carry our ids only. */
export async function startOutboxRow(
  temporal: Client,
  config: Config,
  row: PendingStart,
  counter?: StartCounter,
): Promise<StartResult> {
  const workflowType = row.workflow_type as WorkflowType;
  const { result } = await startWorkflow(temporal, workflowType, {
    baseQueue: config.temporal.taskQueue,
    counter,
    workflowId: row.workflow_id,
    args: row.args,
    // A running one is reused; one that completed is refused (no second run); one that failed
    // may run again (the drain restarts it a bounded number of times). A rerunnable one (a
    // template sync) runs again after a completed run: its outbox row was armed once more.
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: RERUNNABLE_WORKFLOW_TYPES.has(workflowType)
      ? 'ALLOW_DUPLICATE'
      : 'ALLOW_DUPLICATE_FAILED_ONLY',
    ...(row.message_id !== null
      ? {
          typedSearchAttributes: [
            { key: searchAttributes.messageId, value: String(row.message_id) },
            ...(row.business_id ? [{ key: searchAttributes.businessId, value: row.business_id }] : []),
            ...(row.integration_id ? [{ key: searchAttributes.integrationId, value: row.integration_id }] : []),
          ],
        }
      : {}),
  });
  return result === 'started' ? 'started' : 'completed';
}

/** How long the fast path steps aside after a start Temporal refused (the drain starts those rows). */
const FAST_PATH_PAUSE_MS = 1_000;
const fastPathPausedUntil = new WeakMap<Client, number>();

/** Running message workflows per business, read at most every half second (the drain enforces the cap exactly). */
const runsCache = new WeakMap<Db, { readAt: number; counts: Promise<Map<string, number>>; known: Set<string> }>();
function cachedRuns(db: Db, businesses: string[]): Promise<Map<string, number>> {
  const cached = runsCache.get(db);
  const fresh = cached !== undefined && Date.now() - cached.readAt < 500;
  if (fresh && businesses.every((b) => cached.known.has(b))) return cached.counts;
  // One read for every business seen in this half second, so deliveries alternating between
  // businesses share it.
  const known = new Set([...(fresh ? cached.known : []), ...businesses]);
  const counts = activeMessageRuns(db, [...known]);
  runsCache.set(db, { readAt: fresh ? cached.readAt : Date.now(), counts, known });
  return counts;
}

/**
 * The fast path: starts what the commit wrote, at most the per-business limit of message runs at
 * once; the rest stays for the drain. Never throws: the rows are durable either way.
 */
export async function startAfterCommit(deps: WebhookDeps, rows: PendingStart[]): Promise<void> {
  if (rows.length === 0) return;
  // Temporal just refused a start: leave this second's rows to the drain instead of spending the
  // API's time on calls that fail the same way.
  if (Date.now() < (fastPathPausedUntil.get(deps.temporal) ?? 0)) return;
  try {
    const businesses = [...new Set(rows.map((r) => r.business_id).filter((b): b is string => b !== null))];
    // The shared counts, moved in place: deliveries of one burst (within one read) see each
    // other's starts, so a flood cannot start past the cap before the next read.
    const running = await cachedRuns(deps.db, businesses);
    const eligible = rows.filter((row) => {
      if (row.message_id === null || row.business_id === null) return true;
      const count = running.get(row.business_id) ?? 0;
      if (count >= deps.config.outbox.perBusinessRuns) return false;
      running.set(row.business_id, count + 1);
      return true;
    });
    const started: number[] = [];
    const done: number[] = [];
    await deps.temporal.connection.withDeadline(Date.now() + START_DEADLINE_MS, () =>
      Promise.all(
        eligible.map(async (row) => {
          try {
            const result = await startOutboxRow(deps.temporal, deps.config, row, deps.metrics.workflowStarts);
            // Only message runs are watched (restarted when they fail); the others are done once started.
            (row.message_id !== null && result === 'started' ? started : done).push(row.id);
          } catch (error) {
            fastPathPausedUntil.set(deps.temporal, Date.now() + FAST_PATH_PAUSE_MS);
            deps.log.debug(
              { workflowId: row.workflow_id, err: (error as Error).message },
              'start left to the outbox drain',
            );
          }
        }),
      ),
    );
    await markStarted(deps.db, [...started, ...done], deps.config.outbox.checkAfterMs);
    await markDone(deps.db, done);
  } catch (error) {
    deps.log.warn({ err: (error as Error).message }, 'fast-path starts failed; the outbox drain starts them');
  }
}

export async function acceptWebhook(deps: WebhookDeps, parsed: ParsedWebhook): Promise<IntakeResult> {
  const result = await intakeWebhook(deps.db, parsed, intakeNames(deps.config));
  void startAfterCommit(deps, result.starts);
  return result;
}
