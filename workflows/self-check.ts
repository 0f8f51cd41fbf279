// SelfCheck: one activity that writes to PostgreSQL. `npm run selfcheck` (and the tests) use it to
// prove that a worker polls the task queue and reaches the database.
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { selfCheckWrite } from './policies.js';

const { recordSelfCheck } = proxyActivities<Activities>(selfCheckWrite);

export async function selfCheck(checkId: string): Promise<{ workerIdentity: string; checkedAt: string }> {
  return recordSelfCheck(checkId);
}
