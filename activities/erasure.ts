// Activities of EraseData: each takes the erasure row id only and reads what to delete from
// PostgreSQL, so no phone number, BSUID or business data ever enters a workflow history.
import { Context } from '@temporalio/activity';
import { mediaStorageFromConfig } from '../src/media/storage.js';
import { eraseBatch, eraseMediaBatch, erasureScope } from '../src/store/erasure-batches.js';
import { finishErasure, integrationsOf, readErasure, startErasure } from '../src/store/erasures.js';
import { deactivateIntegration } from '../src/store/integrations.js';
import { callTimeouts, type CallTimeouts } from '../src/temporal/timeouts.js';
import type { ActivityDeps } from './deps.js';

export type ErasurePlan =
  | { kind: 'unknown' }
  | { kind: 'done' }
  | { kind: 'customer' }
  /** The business's integrations: each is stopped at Meta and in Temporal before its rows go. */
  | { kind: 'business'; integrationIds: string[]; timeouts: CallTimeouts };

/** Rows per delete statement: small enough to hold locks briefly, large enough to be quick. */
const BATCH_ROWS = 500;
/** One activity attempt deletes for about this long, then the workflow calls it again. */
const ATTEMPT_BUDGET_MS = 60_000;

export function createErasureActivities({ db, config, log }: ActivityDeps) {
  const storage = mediaStorageFromConfig(config.media);
  return {
    async beginErasure(input: { erasureId: string }): Promise<ErasurePlan> {
      const row = await startErasure(db, input.erasureId);
      if (!row) return { kind: 'unknown' };
      if (row.state === 'done') return { kind: 'done' };
      if (row.scope === 'customer') return { kind: 'customer' };
      const integrations = await integrationsOf(db, row.business_id);
      // Nothing new is taken for the business from here: its numbers' messages are ignored.
      for (const integration of integrations.filter((i) => i.is_active))
        await deactivateIntegration(db, integration.id, { state: 'inactive', why: 'erased' });
      return { kind: 'business', integrationIds: integrations.map((i) => i.id), timeouts: callTimeouts(config) };
    },

    /** Deletes the erasure's rows in batches for a while; answers whether nothing is left. */
    async eraseRows(input: { erasureId: string }): Promise<{ done: boolean }> {
      const row = await readErasure(db, input.erasureId);
      if (!row || row.state === 'done') return { done: true };
      const { steps } = await erasureScope(db, config.keyring, row);
      const until = Date.now() + ATTEMPT_BUDGET_MS;
      for (const step of steps) {
        const batch = () =>
          step.objects
            ? eraseMediaBatch(db, input.erasureId, step, BATCH_ROWS, (key) => storage.delete(key))
            : eraseBatch(db, input.erasureId, step, BATCH_ROWS);
        while ((await batch()) === BATCH_ROWS) {
          Context.current().heartbeat(step.kind);
          if (Date.now() > until) return { done: false };
        }
        Context.current().heartbeat(step.kind);
      }
      return { done: true };
    },

    async finishErasure(input: { erasureId: string }): Promise<void> {
      await finishErasure(db, input.erasureId);
      log.info({ erasureId: input.erasureId }, 'erasure done');
    },
  };
}
