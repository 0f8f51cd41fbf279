// `selfcheck`: runs the SelfCheck workflow through the configured Temporal server and task queue,
// proving that a worker is polling and reaches PostgreSQL.
import { randomUUID } from 'node:crypto';
import type { Config } from '../config.js';
import { connectTemporal } from '../temporal/client.js';
import { selfCheckWorkflowId, taskQueueFor } from '../temporal/names.js';
import type { selfCheck } from '../../workflows/index.js';

export async function runSelfCheck(
  config: Config,
  timeoutMs = 30_000,
): Promise<{ workerIdentity: string; checkedAt: string }> {
  const client = await connectTemporal(config);
  try {
    const checkId = randomUUID();
    const handle = await client.workflow.start<typeof selfCheck>('selfCheck', {
      taskQueue: taskQueueFor(config.temporal.taskQueue, 'selfCheck'),
      workflowId: selfCheckWorkflowId(checkId),
      args: [checkId],
      workflowExecutionTimeout: `${timeoutMs}ms`,
    });
    return await handle.result();
  } finally {
    await client.connection.close();
  }
}
