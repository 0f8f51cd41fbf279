// Activities that read and write PostgreSQL.
import { hostname } from 'node:os';
import type { ActivityDeps } from './deps.js';

export function createStoreActivities({ db }: ActivityDeps) {
  return {
    /** Writes one row per self check, proving a worker reached the database. Idempotent on checkId. */
    async recordSelfCheck(checkId: string): Promise<{ workerIdentity: string; checkedAt: string }> {
      const workerIdentity = `${process.pid}@${hostname()}`;
      const [row] = await db('self_checks')
        .insert({ id: checkId, worker_identity: workerIdentity })
        .onConflict('id')
        .merge()
        .returning(['worker_identity', 'checked_at']);
      return { workerIdentity: row!.worker_identity, checkedAt: row!.checked_at.toISOString() };
    },
  };
}
