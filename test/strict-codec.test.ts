// The worker trusts only what its own deployment encrypted: a workflow started on our queues with
// plain input (anyone who may start workflows on the namespace could fake a customer's message)
// fails its first workflow task with a clear reason, and none of its code runs.
import { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EncryptionCodec } from '../src/temporal/codec.js';
import { taskQueueFor } from '../src/temporal/names.js';
import { startStack, type Stack } from './helpers/stack.js';

describe('strict payload codec on the worker', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({});
  });
  afterAll(() => stack?.close());

  it('refuses a workflow started with an unencrypted input, and runs none of it', async () => {
    // A client without our codec, as `temporal workflow start` or a foreign SDK would be.
    const plain = new Client({ connection: stack.client.connection, namespace: stack.config.temporal.namespace });
    const handle = await plain.workflow.start('handleInboundMessage', {
      taskQueue: taskQueueFor(stack.config.temporal.taskQueue, 'handleInboundMessage'),
      workflowId: `forged-${Date.now()}`,
      args: [1],
    });
    try {
      await expect
        .poll(
          async () => {
            const history = await handle.fetchHistory();
            const failure = (history.events ?? []).find((e) => e.workflowTaskFailedEventAttributes)
              ?.workflowTaskFailedEventAttributes?.failure;
            if (!failure?.encodedAttributes) return undefined;
            // The failure's message travels encrypted like every payload of ours.
            const [attributes] = await new EncryptionCodec(stack.config.codecKeyring).decode([
              failure.encodedAttributes,
            ]);
            return (JSON.parse(Buffer.from(attributes!.data!).toString()) as { message: string }).message;
          },
          { timeout: 30_000 },
        )
        .toMatch(/refused an unencrypted payload/);
      const history = await handle.fetchHistory();
      const ran = (history.events ?? []).filter(
        (e) => e.activityTaskScheduledEventAttributes || e.markerRecordedEventAttributes,
      );
      expect(ran).toHaveLength(0);
    } finally {
      await handle.terminate('test over');
    }
  });
});
