// The retention sweep's activities: the plan (which tables this deployment's settings sweep) and
// one bounded batch of one table. Counts go to the worker's metrics; a step's total to the log when
// its last batch comes up short. Neither carries anything but kinds, tables and counts.
import { mediaStorageFromConfig } from '../src/media/storage.js';
import {
  agedMediaBatch,
  deleteMediaRows,
  retentionPlan,
  runRetentionBatch,
  type RetentionStep,
  type RetentionStepName,
} from '../src/store/retention.js';
import type { ActivityDeps } from './deps.js';

export interface RetentionBatchInput {
  step: RetentionStepName;
  /** What earlier batches of this step deleted in this sweep, for the step's log line. */
  deletedSoFar: number;
  batchesSoFar: number;
}

export interface RetentionBatchResult {
  deleted: number;
  /** The batch came up short: nothing older is left for this step. */
  done: boolean;
}

export function createRetentionActivities({ db, config, log, metrics }: ActivityDeps) {
  const { days, batchSize } = config.retention;
  const storage = mediaStorageFromConfig(config.media);
  /** Media: the objects first, then the rows, so no object is left that no row knows of. */
  const mediaBatch = async (): Promise<number> => {
    const rows = await agedMediaBatch(db, days, batchSize);
    for (const row of rows) if (row.storageKey) await storage.delete(row.storageKey);
    return deleteMediaRows(
      db,
      rows.map((r) => r.id),
    );
  };
  return {
    async retentionSteps(): Promise<RetentionStep[]> {
      return retentionPlan(days);
    },

    async retentionBatch(input: RetentionBatchInput): Promise<RetentionBatchResult> {
      const [step] = retentionPlan(days).filter((s) => s.step === input.step);
      // A setting turned off since the sweep planned: nothing more to do for it.
      if (!step) return { deleted: 0, done: true };
      const deleted =
        input.step === 'media' ? await mediaBatch() : await runRetentionBatch(db, input.step, days, batchSize);
      if (deleted > 0) metrics.retentionDeleted(step.kind, step.table, deleted);
      const done = deleted < batchSize;
      if (done) {
        log.info(
          {
            kind: step.kind,
            table: step.table,
            deleted: input.deletedSoFar + deleted,
            batches: input.batchesSoFar + 1,
          },
          'retention step done',
        );
      }
      return { deleted, done };
    },
  };
}
