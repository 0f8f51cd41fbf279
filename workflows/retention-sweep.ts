// RetentionSweep: run by the retention Schedule (hourly by default, overlap skipped). Step by step
// (one table each), it deletes one bounded batch after another until a batch comes up short; a
// long sweep continues as new, carrying the steps left and the counts so far.
import { continueAsNew, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { RetentionStepName } from '../src/store/retention.js';
import { retentionBatch as batchPolicy } from './policies.js';

const { retentionSteps, retentionBatch } = proxyActivities<Activities>(batchPolicy);

/** Batches one run records before it continues as new (each is a handful of history events). */
const MAX_BATCHES_PER_RUN = 500;

export interface RetentionSweepInput {
  /** Steps not finished yet (a continued sweep); absent: the plan from the worker's settings. */
  steps?: RetentionStepName[];
  /** Counts of the sweep so far, by step. */
  report?: RetentionSweepReport;
  maxBatchesPerRun?: number;
}

export type RetentionSweepReport = Partial<Record<RetentionStepName, { deleted: number; batches: number }>>;

export async function retentionSweep(input: RetentionSweepInput = {}): Promise<RetentionSweepReport> {
  const steps = input.steps ?? (await retentionSteps()).map((s) => s.step);
  const report: RetentionSweepReport = input.report ?? {};
  const maxBatches = input.maxBatchesPerRun ?? MAX_BATCHES_PER_RUN;
  let batches = 0;
  for (const [index, step] of steps.entries()) {
    const counts = (report[step] ??= { deleted: 0, batches: 0 });
    for (;;) {
      if (batches >= maxBatches || workflowInfo().continueAsNewSuggested) {
        return continueAsNew<typeof retentionSweep>({ ...input, steps: steps.slice(index), report });
      }
      const { deleted, done } = await retentionBatch({
        step,
        deletedSoFar: counts.deleted,
        batchesSoFar: counts.batches,
      });
      batches += 1;
      counts.deleted += deleted;
      counts.batches += 1;
      if (done) break;
    }
  }
  return report;
}
