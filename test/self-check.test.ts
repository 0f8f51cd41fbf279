import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selfCheckWorkflowId } from '../src/temporal/names.js';
import { startStack, type Stack } from './helpers/stack.js';

describe('SelfCheck workflow', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack?.close());

  it('runs on a real worker and writes through a real activity to PostgreSQL', async () => {
    const checkId = randomUUID();
    const result = await stack.client.workflow.execute('selfCheck', {
      taskQueue: stack.config.temporal.taskQueue,
      workflowId: selfCheckWorkflowId(checkId),
      args: [checkId],
    });
    const row = await stack.db('self_checks').where({ id: checkId }).first();
    expect(row).toBeDefined();
    expect(row!.worker_identity).toBe((result as { workerIdentity: string }).workerIdentity);
    expect(row!.worker_identity).toMatch(new RegExp(`^${process.pid}@`));
  });
});
