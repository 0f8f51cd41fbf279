// Self checks: one row per run, written by the worker that ran it.
import type { Db } from '../db.js';

/** Idempotent on checkId: a retried activity rewrites the same row. */
export async function recordSelfCheckRow(
  db: Db,
  checkId: string,
  workerIdentity: string,
): Promise<{ workerIdentity: string; checkedAt: string }> {
  const [row] = await db('self_checks')
    .insert({ id: checkId, worker_identity: workerIdentity })
    .onConflict('id')
    .merge()
    .returning(['worker_identity', 'checked_at']);
  return { workerIdentity: row!.worker_identity, checkedAt: row!.checked_at.toISOString() };
}
