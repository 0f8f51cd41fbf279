// `selfcheck`: runs the SelfCheck workflow through the configured Temporal server and task queue,
// proving that a worker is polling and reaches PostgreSQL.
import { randomUUID } from 'node:crypto';
import type { Config } from '../config.js';
import { connectClient } from '../temporal/client.js';
import { selfCheckWorkflowId } from '../temporal/names.js';
import type { selfCheck } from '../../workflows/index.js';

export async function runSelfCheck(config: Config, timeoutMs = 30_000): Promise<{ workerIdentity: string; checkedAt: string }> {
  const client = await connectClient(config.temporal, config.keyring);
  try {
    const checkId = randomUUID();
    const handle = await client.workflow.start<typeof selfCheck>('selfCheck', {
      taskQueue: config.temporal.taskQueue,
      workflowId: selfCheckWorkflowId(checkId),
      args: [checkId],
      workflowExecutionTimeout: `${timeoutMs}ms`,
    });
    return await handle.result();
  } finally {
    await client.connection.close();
  }
}
