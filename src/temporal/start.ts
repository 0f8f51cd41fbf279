// The one way the API, the worker and the commands start a workflow: its task queue follows from
// its type, each start is counted by result where a counter is given, and an id that is already
// taken (a run going, or one the reuse policy refuses) is an answer, `duplicate`, not an error.
import {
  WorkflowExecutionAlreadyStartedError,
  type Client,
  type WorkflowHandle,
  type WorkflowOptions,
} from '@temporalio/client';
import type { Workflow } from '@temporalio/common';
import { taskQueueFor, type WorkflowType } from './names.js';

export type StartResult = 'started' | 'duplicate';

/** `waconnect_workflow_starts_total`, or any counter with its labels. */
export interface StartCounter {
  inc(labels: { workflow: string; result: StartResult | 'error' }): void;
}

export interface WorkflowStart<W extends Workflow> extends Omit<WorkflowOptions, 'taskQueue'> {
  /** The deployment's base task queue (`config.temporal.taskQueue`). */
  baseQueue: string;
  args: Parameters<W>;
  /** Counts the start; left out where no API metrics exist (the worker, the commands). */
  counter?: StartCounter | undefined;
}

export async function startWorkflow<W extends Workflow>(
  temporal: Client,
  type: WorkflowType,
  { baseQueue, counter, ...options }: WorkflowStart<W>,
): Promise<{ result: StartResult; handle: WorkflowHandle<W> }> {
  try {
    const handle = await temporal.workflow.start<Workflow>(type, {
      ...options,
      taskQueue: taskQueueFor(baseQueue, type),
    });
    counter?.inc({ workflow: type, result: 'started' });
    return { result: 'started', handle: handle as WorkflowHandle<W> };
  } catch (error) {
    const duplicate = error instanceof WorkflowExecutionAlreadyStartedError;
    counter?.inc({ workflow: type, result: duplicate ? 'duplicate' : 'error' });
    if (!duplicate) throw error;
    return { result: 'duplicate', handle: temporal.workflow.getHandle<W>(options.workflowId) };
  }
}
