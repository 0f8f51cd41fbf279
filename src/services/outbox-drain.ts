// The outbox drain, run by every worker: starts what the API's fast path left (Temporal away, the
// API killed between commit and start), and watches message workflows: a run that failed is
// started again at most `maxRestarts` times, then its message is closed `failed`. Rows are claimed
// with FOR UPDATE SKIP LOCKED in a statement of their own, so workers share the work and no
// Temporal call happens inside a transaction.
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Config } from '../config.js';
import type { Db } from '../db.js';
import type { Logger } from '../logger.js';
import { claimDue, markDone, markStarted, postpone, type PendingStart } from '../store/outbox.js';
import { closeInboundMessage } from '../store/turns.js';
import { messageWorkflowId, TURN_RELEASED_SIGNAL } from '../temporal/names.js';
import { startOutboxRow } from './webhooks.js';

const BATCH = 200;
const LEASE_MS = 30_000;
const FAILED_RUN = new Set(['FAILED', 'TERMINATED', 'TIMED_OUT', 'CANCELLED']);

export interface OutboxDrain {
  /** One pass (tests call it directly); resolves with the number of rows handled. */
  drainOnce(): Promise<number>;
  stop(): Promise<void>;
}

export function startOutboxDrain(
  deps: { config: Config; db: Db; temporal: Client; log: Logger },
  options: { run?: boolean } = {},
): OutboxDrain {
  const { config, db, temporal, log } = deps;
  const retryDelay = (attempts: number) => Math.min(30_000, 1_000 * 2 ** Math.min(attempts, 5));

  async function start(row: PendingStart): Promise<void> {
    const result = await startOutboxRow(temporal, config, row);
    await markStarted(db, [row.id], config.outbox.checkAfterMs);
    if (row.message_id === null || result === 'completed') await markDone(db, [row.id]);
  }

  async function check(row: PendingStart): Promise<void> {
    let status: string;
    try {
      status = (await temporal.workflow.getHandle(row.workflow_id).describe()).status.name;
    } catch (error) {
      if (!(error instanceof WorkflowNotFoundError)) throw error;
      status = 'NOT_FOUND';
    }
    if (status === 'RUNNING') return postpone(db, row.id, config.outbox.checkAfterMs, null);
    if (status === 'COMPLETED' || status === 'CONTINUED_AS_NEW') return markDone(db, [row.id]);
    if (FAILED_RUN.has(status) && row.attempts > config.outbox.maxRestarts) {
      log.warn(
        { workflowId: row.workflow_id, attempts: row.attempts },
        'message workflow kept failing; closing its message',
      );
      const released = await closeInboundMessage(db, row.message_id!, 'failed', {
        reason: 'workflow_failed',
        runs: row.attempts,
      });
      await markDone(db, [row.id]);
      if (released.nextHeadId) {
        await temporal.workflow
          .getHandle(messageWorkflowId(released.nextHeadId))
          .signal(TURN_RELEASED_SIGNAL)
          .catch(() => undefined);
      }
      return;
    }
    log.info(
      { workflowId: row.workflow_id, status, attempts: row.attempts },
      'message workflow not running; starting it again',
    );
    await start(row);
  }

  async function handle(row: PendingStart): Promise<void> {
    try {
      if (row.started_at === null) await start(row);
      else await check(row);
    } catch (error) {
      log.debug({ workflowId: row.workflow_id, err: (error as Error).message }, 'outbox row left for the next pass');
      await postpone(db, row.id, retryDelay(row.attempts), (error as Error).message).catch(() => undefined);
    }
  }

  async function drainOnce(): Promise<number> {
    const rows = await claimDue(db, config.temporal.taskQueue, BATCH, LEASE_MS, config.outbox.perBusinessRuns);
    await Promise.all(rows.map(handle));
    return rows.length;
  }

  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();
  const loop = () => {
    if (stopped) return;
    running = drainOnce()
      .then((n) => n)
      .catch((error: unknown) => {
        log.warn({ err: (error as Error).message }, 'outbox drain pass failed');
        return 0;
      })
      .then((n) => {
        // A full batch means more is due: go again at once.
        if (!stopped) timer = setTimeout(loop, n >= BATCH ? 0 : config.outbox.drainIntervalMs);
      });
  };
  if (options.run !== false) timer = setTimeout(loop, 0);
  return {
    drainOnce,
    stop: async () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
