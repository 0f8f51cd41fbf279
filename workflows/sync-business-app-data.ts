// SyncBusinessAppData: one per coexistence number (a WhatsApp Business app number onboarded to the
// Cloud API). Meta sends the owner's contacts and chat history as webhooks only when asked, once
// each, within 24 hours of onboarding: each request retries through Meta's failures until that
// deadline, then the sync is recorded `expired` instead.
import { ActivityFailure, ApplicationFailure, isCancellation, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { SyncState, SyncType } from '../src/store/coexistence.js';
import { db, untilDeadline } from './policies.js';

const { businessAppSyncTarget, giveUpBusinessAppSync } = db;

export interface BusinessAppSyncResult {
  syncs: Array<{ syncType: SyncType; state: SyncState }>;
}

export async function syncBusinessAppData(input: { phoneNumberRowId: string }): Promise<BusinessAppSyncResult> {
  const target = await businessAppSyncTarget(input);
  const result: BusinessAppSyncResult = { syncs: [] };
  for (const sync of target?.syncs ?? []) {
    const ids = { phoneNumberRowId: input.phoneNumberRowId, syncType: sync.syncType };
    if (sync.state !== 'pending') {
      result.syncs.push({ syncType: sync.syncType, state: sync.state });
      continue;
    }
    const remainingMs = Date.parse(sync.deadline) - Date.now();
    if (remainingMs <= 0) {
      await giveUpBusinessAppSync({ ...ids, state: 'expired' });
      result.syncs.push({ syncType: sync.syncType, state: 'expired' });
      continue;
    }
    const { requestBusinessAppSync } = proxyActivities<Activities>(untilDeadline(remainingMs));
    try {
      const { state } = await requestBusinessAppSync(ids);
      result.syncs.push({ syncType: sync.syncType, state });
    } catch (error) {
      if (isCancellation(error)) throw error;
      // Retries stop at the deadline, with a timeout or with the last retryable failure: the
      // window closed on them. A failure that was never going to be retried is a failure.
      const refused =
        !(error instanceof ActivityFailure) || (error.cause instanceof ApplicationFailure && error.cause.nonRetryable);
      const state = refused ? ('failed' as const) : 'expired';
      await giveUpBusinessAppSync({ ...ids, state });
      result.syncs.push({ syncType: sync.syncType, state });
    }
  }
  return result;
}
