// The workflow-start outbox: rows written in the intake transaction, started right after the
// commit by the API, and drained by every worker for whatever was left (FOR UPDATE SKIP LOCKED,
// so any number of workers share it without a singleton). No Temporal call happens while a
// transaction here is open: a claim commits first, the start follows, the outcome is written after.
import type { Knex } from 'knex';
import type { Db } from '../db.js';
import type { WorkflowStartRow } from './tables.js';

export type PendingStart = Pick<
  WorkflowStartRow,
  | 'id'
  | 'workflow_type'
  | 'workflow_id'
  | 'args'
  | 'business_id'
  | 'integration_id'
  | 'message_id'
  | 'attempts'
  | 'started_at'
>;

export const PENDING_COLUMNS = [
  'id',
  'workflow_type',
  'workflow_id',
  'args',
  'business_id',
  'integration_id',
  'message_id',
  'attempts',
  'started_at',
] as const;

export interface NewStart {
  taskQueue: string;
  workflowType: string;
  workflowId: string;
  args: unknown[];
  businessId: string | null;
  integrationId: string | null;
  messageId: number | null;
}

/** How long the drain leaves a fresh row to the API's fast path. */
export const FAST_PATH_GRACE_MS = 2_000;

export async function insertStarts(trx: Knex.Transaction, starts: NewStart[]): Promise<PendingStart[]> {
  if (starts.length === 0) return [];
  const availableAt = new Date(Date.now() + FAST_PATH_GRACE_MS);
  return trx('workflow_starts')
    .insert(
      starts.map((s) => ({
        workflow_type: s.workflowType,
        workflow_id: s.workflowId,
        task_queue: s.taskQueue,
        args: JSON.stringify(s.args),
        business_id: s.businessId,
        integration_id: s.integrationId,
        message_id: s.messageId,
        available_at: availableAt,
      })),
    )
    .onConflict('workflow_id')
    .ignore()
    .returning([...PENDING_COLUMNS]);
}

/** A run was started (or already existed): check on it after `checkAfterMs`. */
export async function markStarted(db: Db, ids: number[], checkAfterMs: number): Promise<void> {
  if (ids.length === 0) return;
  await db('workflow_starts')
    .whereIn('id', ids)
    .whereNull('done_at')
    .update({
      started_at: db.fn.now(),
      attempts: db.raw('attempts + 1'),
      available_at: new Date(Date.now() + checkAfterMs),
      last_error: null,
    });
}

/** A start that completed its purpose (its message closed, or a workflow with nothing to watch). */
export async function markDone(db: Db | Knex.Transaction, ids: number[]): Promise<void> {
  if (ids.length === 0) return;
  await db('workflow_starts').whereIn('id', ids).whereNull('done_at').update({ done_at: new Date() });
}

export async function markMessagesDone(trx: Db | Knex.Transaction, messageIds: number[]): Promise<void> {
  if (messageIds.length === 0) return;
  await trx('workflow_starts').whereIn('message_id', messageIds).whereNull('done_at').update({ done_at: new Date() });
}

export async function postpone(db: Db, id: number, delayMs: number, error: string | null): Promise<void> {
  await db('workflow_starts')
    .where({ id })
    .update({ available_at: new Date(Date.now() + delayMs), ...(error ? { last_error: error.slice(0, 500) } : {}) });
}

/**
 * Claims due rows for `leaseMs` in one statement (its own short transaction). Message workflows of
 * a business with `perBusiness` runs already going wait, so one business's flood never delays others.
 */
export async function claimDue(
  db: Db,
  taskQueue: string,
  limit: number,
  leaseMs: number,
  perBusiness: number,
): Promise<PendingStart[]> {
  // A business's unstarted message rows are numbered in due order, and only as many as it has
  // free runs are claimed, so one pass cannot start a whole flood. The window runs over unlocked
  // rows; the lock (SKIP LOCKED) is taken on the chosen ids, so a second drainer skips them.
  const result = await db.raw(
    `WITH active AS (
       SELECT business_id, count(*) AS running FROM workflow_starts
       WHERE done_at IS NULL AND started_at IS NOT NULL AND message_id IS NOT NULL AND business_id IS NOT NULL
         AND task_queue = ?
       GROUP BY business_id
     ), numbered AS (
       SELECT s.id, s.available_at, s.started_at, s.message_id, s.business_id,
         row_number() OVER (PARTITION BY s.business_id, (s.started_at IS NULL AND s.message_id IS NOT NULL)
                            ORDER BY s.available_at, s.id) AS place
       FROM workflow_starts s
       WHERE s.done_at IS NULL AND s.task_queue = ? AND s.available_at <= now()
     ), chosen AS (
       SELECT n.id FROM numbered n
       LEFT JOIN active a ON a.business_id = n.business_id
       WHERE n.started_at IS NOT NULL OR n.message_id IS NULL OR n.business_id IS NULL
         OR n.place <= ? - COALESCE(a.running, 0)
       ORDER BY n.available_at, n.id
       LIMIT ?
     ), due AS (
       SELECT w.id FROM workflow_starts w WHERE w.id IN (SELECT id FROM chosen)
       FOR UPDATE SKIP LOCKED
     )
     UPDATE workflow_starts w SET available_at = now() + (? * interval '1 millisecond')
     FROM due WHERE w.id = due.id
     RETURNING ${PENDING_COLUMNS.map((c) => `w.${c}`).join(', ')}`,
    [taskQueue, taskQueue, perBusiness, limit, leaseMs],
  );
  return result.rows as PendingStart[];
}

/** Message workflows of this business started and not yet done (the per-business concurrency). */
export async function activeMessageRuns(db: Db, businessIds: string[]): Promise<Map<string, number>> {
  if (businessIds.length === 0) return new Map();
  const rows: Array<{ business_id: string; running: number }> = await db('workflow_starts')
    .whereIn('business_id', businessIds)
    .whereNull('done_at')
    .whereNotNull('started_at')
    .whereNotNull('message_id')
    .groupBy('business_id')
    .select('business_id', db.raw('count(*)::int AS running') as never);
  return new Map(rows.map((r) => [r.business_id, r.running]));
}

export interface OutboxStats {
  unstarted: number;
  oldestUnstartedAgeSeconds: number;
}

export async function outboxStats(db: Db): Promise<OutboxStats> {
  const row = await db('workflow_starts')
    .whereNull('done_at')
    .whereNull('started_at')
    .first(
      db.raw('count(*)::int AS unstarted'),
      db.raw('COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::float AS oldest'),
    );
  const r = row as unknown as { unstarted: number; oldest: number } | undefined;
  return { unstarted: r?.unstarted ?? 0, oldestUnstartedAgeSeconds: r?.oldest ?? 0 };
}

export async function rejectItem(
  trx: Knex.Transaction | Db,
  kind: string,
  reason: string,
  item: unknown,
): Promise<void> {
  await trx('rejected_items').insert({ kind, reason: reason.slice(0, 200), raw: JSON.stringify(item) ?? 'null' });
}

/** Rejected items by kind and the class of PostgreSQL's reason (its SQLSTATE), for the metrics. */
export async function rejectedByReason(db: Db): Promise<Array<{ kind: string; reason: string; count: number }>> {
  const result = await db.raw(
    `SELECT kind, split_part(reason, ':', 1) AS reason, count(*)::int AS count FROM rejected_items GROUP BY 1, 2`,
  );
  return result.rows as Array<{ kind: string; reason: string; count: number }>;
}
