// The worker trusts only what its own deployment encrypted: a workflow started on our queues with
// plain input (anyone who may start workflows on the namespace could fake a customer's message)
// fails its first workflow task with a clear reason, and none of its code runs. The same holds for a
// plain signal sent to a running workflow and a plain query: refused, acted on by nothing.
import { randomUUID } from 'node:crypto';
import { Client, type WorkflowHandle } from '@temporalio/client';
import proto, { type temporal } from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { latestAttempt } from '../src/store/connect.js';
import { EncryptionCodec } from '../src/temporal/codec.js';
import { messageWorkflowId, taskQueueFor, TURN_RELEASED_SIGNAL, workflowTypes } from '../src/temporal/names.js';
import { startBrain, type BrainReply, type RunningBrain } from './helpers/brain.js';
import { connectedIntegration } from './helpers/connected.js';
import { connectNewNumber } from './helpers/meta-flow.js';
import { startStack, type Stack } from './helpers/stack.js';
import { quietPeriod } from './helpers/waits.js';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

interface BrainRequest {
  messages: Array<{ messageId: string; text?: string }>;
}

describe('strict payload codec on the worker', () => {
  let stack: Stack;
  let brain: RunningBrain;
  /** The brain answers when the test lets it. */
  const held: Array<{ body: BrainRequest; respond: (reply: BrainReply) => void }> = [];
  const requests: BrainRequest[] = [];
  let plain: Client;

  beforeAll(async () => {
    brain = await startBrain<BrainRequest>((body, respond) => {
      requests.push(body);
      held.push({ body, respond });
    });
    stack = await startStack({
      api: true,
      sandbox: true,
      env: {
        REPLY_WEBHOOK_URL: brain.url,
        REPLY_WEBHOOK_SECRET: 'brain-secret-for-strict-codec-0123456',
        REPLY_WEBHOOK_TIMEOUT_MS: '20000',
        OUTBOX_DRAIN_INTERVAL_MS: '100',
        OUTBOX_CHECK_AFTER_MS: '300',
      },
    });
    // A client without our codec, as `temporal workflow start/signal/query` or a foreign SDK would be.
    plain = new Client({ connection: stack.client.connection, namespace: stack.config.temporal.namespace });
  });
  afterAll(async () => {
    await stack?.close();
    await brain?.close();
  });

  /** A failure's message: it travels encrypted like every payload of ours. */
  async function messageOf(failure: temporal.api.failure.v1.IFailure | null | undefined): Promise<string | undefined> {
    if (!failure?.encodedAttributes) return undefined;
    const [attributes] = await new EncryptionCodec(stack.config.codecKeyring).decode([failure.encodedAttributes]);
    return (JSON.parse(Buffer.from(attributes!.data!).toString()) as { message: string }).message;
  }

  /** The message of the first workflow task failure after event `after`. */
  async function taskFailure(handle: WorkflowHandle, after = 0): Promise<string | undefined> {
    const history = await handle.fetchHistory();
    return messageOf(
      (history.events ?? []).find((e) => Number(e.eventId) > after && e.workflowTaskFailedEventAttributes)
        ?.workflowTaskFailedEventAttributes?.failure,
    );
  }

  /** Activities and local activities (markers) the workflow ran after event `after`. */
  async function ranAfter(handle: WorkflowHandle, after: number): Promise<HistoryEvent[]> {
    const history = await handle.fetchHistory();
    return (history.events ?? []).filter(
      (e) =>
        Number(e.eventId) > after &&
        (e.activityTaskScheduledEventAttributes || e.markerRecordedEventAttributes || e.timerStartedEventAttributes),
    );
  }

  /** Rows of any table of ours whose text holds `needle`. */
  async function rowsHolding(needle: string): Promise<string[]> {
    const tables = await stack
      .db('information_schema.tables')
      .where({ table_schema: 'public', table_type: 'BASE TABLE' })
      .pluck('table_name');
    const found: string[] = [];
    for (const table of tables as string[]) {
      const [row] = await stack
        .db(`${table} as t`)
        .whereRaw('t::text LIKE ?', [`%${needle}%`])
        .count('* as n');
      if (Number(row!.n) > 0) found.push(table);
    }
    return found;
  }

  it('refuses a workflow started with an unencrypted input, and runs none of it', async () => {
    const handle = await plain.workflow.start(workflowTypes.handleInboundMessage, {
      taskQueue: taskQueueFor(stack.config.temporal.taskQueue, 'handleInboundMessage'),
      workflowId: `forged-${Date.now()}`,
      args: [1],
    });
    try {
      await expect.poll(() => taskFailure(handle), { timeout: 30_000 }).toMatch(/refused an unencrypted payload/);
      expect(await ranAfter(handle, 0)).toHaveLength(0);
    } finally {
      await handle.terminate('test over');
    }
  });

  it('refuses an unencrypted signal to a waiting message, acts on none of it, and the message is still answered', async () => {
    const { phoneNumberId } = await connectedIntegration(stack);
    const state = stack.sandbox!.state;
    const from = `48${Date.now() % 1e9}`;
    const rowOf = async (wamid: string) => stack.db('messages').where({ wamid, direction: 'inbound' }).first();
    // m1's turn is with the brain, held there; m2 waits for the line in its workflow.
    const m1 = state.sendCustomerMessage({ phoneNumberId, from, type: 'text', text: 'first' }).messageId;
    await expect.poll(() => held.length, { timeout: 20_000 }).toBe(1);
    const m2 = state.sendCustomerMessage({ phoneNumberId, from, type: 'text', text: 'second' }).messageId;
    await expect.poll(() => rowOf(m2), { timeout: 10_000 }).toBeTruthy();
    const m2Row = (await rowOf(m2))!;
    const handle = stack.client.workflow.getHandle(messageWorkflowId(m2Row.id));
    await expect
      .poll(async () => (await handle.fetchHistory()).events?.some((e) => e.timerStartedEventAttributes), {
        timeout: 20_000,
      })
      .toBe(true);

    // The forged hint carries a payload our codec did not encrypt.
    const forged = `FORGED-${randomUUID()}`;
    await plain.workflow.getHandle(messageWorkflowId(m2Row.id)).signal(TURN_RELEASED_SIGNAL, { text: forged });
    const signalled = (await handle.fetchHistory()).events!.find((e) => e.workflowExecutionSignaledEventAttributes)!;
    const signalEventId = Number(signalled.eventId);
    await expect
      .poll(() => taskFailure(handle, signalEventId), { timeout: 30_000 })
      .toMatch(/refused an unencrypted payload/);

    // m1 is answered as if nothing happened; its release reaches m2, which still acts on nothing:
    // every workflow task of it fails on the forged signal in its history.
    held.shift()!.respond({ reply: { type: 'text', text: 'answer to first' } });
    await expect.poll(async () => (await rowOf(m1))?.status, { timeout: 20_000 }).toBe('replied');
    await quietPeriod(2_000);
    expect(await ranAfter(handle, signalEventId)).toEqual([]);
    expect((await handle.describe()).status.name).toBe('RUNNING');
    expect((await rowOf(m2))!.status).toBe(m2Row.status);
    expect(held).toHaveLength(0);
    expect(state.calls({ operation: 'messages.send' }).filter((c) => c.messageContextId === m2)).toEqual([]);
    expect(await rowsHolding(forged)).toEqual([]);

    // The operator's way out (README, Operations): terminate the run; the outbox drain starts the
    // message's workflow afresh, from what PostgreSQL holds, and the brain answers it.
    await handle.terminate('refused a forged signal');
    await expect.poll(() => held.length, { timeout: 20_000 }).toBe(1);
    held.shift()!.respond({ reply: { type: 'text', text: 'answer to second' } });
    expect(await handle.result()).toEqual({ outcome: 'replied' });
    expect((await rowOf(m2))!.status).toBe('replied');
    const sends = state.calls({ operation: 'messages.send' }).filter((c) => c.effect === 'applied');
    expect(sends.filter((c) => c.messageContextId === m2).map((c) => c.textBody)).toEqual(['answer to second']);
    expect(JSON.stringify(requests)).not.toContain(forged);
    expect(JSON.stringify(state.calls())).not.toContain(forged);
    expect(await rowsHolding(forged)).toEqual([]);
  }, 90_000);

  it('refuses a query with an unencrypted argument, and answers a plain client only in ciphertext', async () => {
    // It queries the connect's own workflow: the real connect.
    const { businessId } = await connectNewNumber(stack.api!.url);
    const workflowId = (await latestAttempt(stack.db, businessId))!.workflow_id;
    const historyLength = async () => (await stack.client.workflow.getHandle(workflowId).fetchHistory()).events!.length;
    const length = await historyLength();

    // A plain argument: refused, for the same reason, which only our keys can read.
    const refusal = await plain.workflowService
      .queryWorkflow({
        namespace: stack.config.temporal.namespace,
        execution: { workflowId },
        query: {
          queryType: 'progress',
          queryArgs: { payloads: [{ metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from('{}') }] },
        },
      })
      .then(
        () => undefined,
        (error: { code?: number; metadata?: { get(key: string): Array<string | Buffer> } }) => error,
      );
    expect(refusal?.code).toBe(3); // INVALID_ARGUMENT: the query failed
    const status = proto.google.rpc.Status.decode(refusal!.metadata!.get('grpc-status-details-bin')[0] as Buffer);
    const failed = proto.temporal.api.errordetails.v1.QueryFailedFailure.decode(status.details[0]!.value!);
    expect(await messageOf(failed.failure)).toMatch(/refused an unencrypted payload/);
    // Without an argument, the answer is encrypted: a client without our keys reads nothing of it.
    const answer = await plain.workflowService.queryWorkflow({
      namespace: stack.config.temporal.namespace,
      execution: { workflowId },
      query: { queryType: 'progress' },
    });
    const payload = answer.queryResult!.payloads![0]!;
    expect(Buffer.from(payload.metadata!.encoding!).toString()).toBe('binary/encrypted');
    expect(Buffer.from(payload.data!).toString()).not.toContain('step');
    // Our own client still reads the progress, and the workflow's history gained nothing.
    expect(await stack.client.workflow.getHandle(workflowId).query('progress')).toMatchObject({ error: null });
    expect(await historyLength()).toBe(length);
  }, 60_000);
});
