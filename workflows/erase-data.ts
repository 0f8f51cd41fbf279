// EraseData: one per erasure (id `erasure/<erasure row id>`, input that id only). A business's
// integrations are first stopped the way a disconnect stops them (no schedule, no running work, no
// webhooks from Meta, no token); then every row is deleted in batches, and the audit row keeps the
// counts and a keyed hash of whom it was for.
import { log, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { db, erasureStep, pagedGraphCall, temporalCall } from './policies.js';

export interface EraseDataResult {
  state: 'done' | 'unknown';
}

const { beginErasure, finishErasure, destroyCredentials } = db;
const { eraseRows } = proxyActivities<Activities>(erasureStep);
const { deleteTokenSchedule, cancelIntegrationWork } = proxyActivities<Activities>(temporalCall);

export async function eraseData(erasureId: string): Promise<EraseDataResult> {
  const plan = await beginErasure({ erasureId });
  if (plan.kind === 'unknown') return { state: 'unknown' };
  if (plan.kind === 'done') return { state: 'done' };
  if (plan.kind === 'business') {
    const { unsubscribeIntegration } = proxyActivities<Activities>(pagedGraphCall(plan.timeouts));
    for (const integrationId of plan.integrationIds) {
      await deleteTokenSchedule({ integrationId });
      await cancelIntegrationWork({ integrationId });
      try {
        await unsubscribeIntegration({ integrationId });
      } catch (error) {
        // Meta kept failing: the rows go regardless; webhooks Meta still sends are ignored.
        log.warn('could not unsubscribe at Meta; erasing regardless', { error: String(error) });
      }
      await destroyCredentials({ integrationId });
    }
  }
  while (!(await eraseRows({ erasureId })).done) {
    // Each call deletes for about a minute; a large business takes several.
  }
  await finishErasure({ erasureId });
  return { state: 'done' };
}
