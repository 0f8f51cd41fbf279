// Activities of coexistence numbers: asking Meta, once each, for the contacts and chat history of a
// number that stays on the WhatsApp Business app, and recording how that went.
import { GraphError } from '../src/meta/graph-errors.js';
import {
  recordSyncAttempt,
  recordSyncGaveUp,
  recordSyncRequested,
  syncRow,
  syncTarget,
  type SyncState,
  type SyncTarget,
  type SyncType,
} from '../src/store/coexistence.js';
import { readIntegrationToken } from '../src/store/integrations.js';
import { toActivityFailure } from '../src/temporal/failures.js';
import type { ActivityDeps } from './deps.js';

export interface BusinessAppSyncInput {
  phoneNumberRowId: string;
  syncType: SyncType;
}

export function createBusinessAppActivities({ db, graph, config }: ActivityDeps) {
  return {
    /** The number and its two syncs, as the sync workflow starts; null when the number row is gone. */
    async businessAppSyncTarget(input: { phoneNumberRowId: string }): Promise<SyncTarget | null> {
      return syncTarget(db, input.phoneNumberRowId);
    },

    /**
     * Asks Meta for one sync (POST /{phone-number-id}/smb_app_data), unless an earlier attempt got
     * it accepted or its 24 hours are over. Transient failures are counted and retried by Temporal;
     * a refusal ends it as `failed`.
     */
    async requestBusinessAppSync(input: BusinessAppSyncInput): Promise<{ state: SyncState }> {
      const { phoneNumberRowId, syncType } = input;
      const row = await syncRow(db, phoneNumberRowId, syncType);
      if (!row) return { state: 'failed' };
      if (row.state !== 'pending') return { state: row.state };
      if (Date.now() >= row.deadline_at.getTime()) {
        await recordSyncGaveUp(db, phoneNumberRowId, syncType, 'expired', null);
        return { state: 'expired' };
      }
      const target = await syncTarget(db, phoneNumberRowId);
      const token = target?.usable ? await readIntegrationToken(db, config.keyring, target.integrationId) : undefined;
      if (!target || !token) {
        await recordSyncGaveUp(db, phoneNumberRowId, syncType, 'failed', 'the number is no longer connected');
        return { state: 'failed' };
      }
      try {
        const answer = await graph.requestBusinessAppData(token, target.phoneNumberId, syncType);
        await recordSyncRequested(db, phoneNumberRowId, syncType, answer.request_id ?? null);
        return { state: 'requested' };
      } catch (error) {
        if (error instanceof GraphError && error.kind !== 'transient') {
          await recordSyncGaveUp(db, phoneNumberRowId, syncType, 'failed', error.summary);
          return { state: 'failed' };
        }
        await recordSyncAttempt(db, phoneNumberRowId, syncType, (error as Error).message);
        throw toActivityFailure(error);
      }
    },

    /** The request will not be made: its 24 hours passed while Meta kept failing, or it failed otherwise. */
    async giveUpBusinessAppSync(input: BusinessAppSyncInput & { state: 'expired' | 'failed' }): Promise<void> {
      await recordSyncGaveUp(
        db,
        input.phoneNumberRowId,
        input.syncType,
        input.state,
        input.state === 'expired' ? 'the 24 hours after onboarding passed before Meta accepted the request' : null,
      );
    },
  };
}
