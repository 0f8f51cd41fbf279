// Retention: the sweep deletes exactly what is older than each kind's setting, in bounded batches,
// keeps what is still in use, and a second sweep deletes nothing; its Schedule exists once a worker
// has set it up. And Temporal's own histories hold no message text or phone number, so Temporal's
// retention needs no sweep of ours. Real PostgreSQL, Temporal, HTTP and the Meta sandbox.
import { randomBytes, randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { ScheduleOverlapPolicy } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { messageWorkflowId, retentionScheduleId, taskQueueFor, workflowTypes } from '../src/temporal/names.js';
import { ensureDeploymentSchedule } from '../src/temporal/schedules.js';
import type { RetentionSweepReport } from '../workflows/retention-sweep.js';
import { newBusinessId } from './helpers/factories.js';
import { historyTexts } from './helpers/history.js';
import { connectedIntegration } from './helpers/connected.js';
import { startStack, type Stack } from './helpers/stack.js';

// Settings far in the past: rows other test files write (all recent) are never the sweep's.
const DAYS = {
  RETENTION_MESSAGE_TEXT_DAYS: 400,
  RETENTION_MESSAGES_DAYS: 500,
  RETENTION_STATUSES_DAYS: 410,
  RETENTION_ACCOUNT_EVENTS_DAYS: 420,
  RETENTION_OAUTH_STATES_DAYS: 430,
  RETENTION_SIGNUP_EVENTS_DAYS: 440,
  RETENTION_REJECTED_DAYS: 450,
};

describe('retention', () => {
  let stack: Stack;
  const logLines: string[] = [];
  beforeAll(async () => {
    stack = await startStack({
      api: true,
      sandbox: true,
      logLines,
      env: {
        ...Object.fromEntries(Object.entries(DAYS).map(([name, days]) => [name, String(days)])),
        // Small batches: every kind with three rows to delete takes several.
        RETENTION_BATCH_SIZE: '2',
      },
    });
  });
  afterAll(() => stack?.close());

  /** A moment `days` days and `hours` hours ago, on PostgreSQL's clock. */
  const ago = (days: number, hours = 0): Knex.Raw =>
    stack.db.raw(`now() - make_interval(days => ?, hours => ?)`, [days, hours]);
  const older = (days: number) => ago(days, 1);
  const younger = (days: number) => ago(days, -1);

  const sweep = (input: { maxBatchesPerRun?: number } = {}) =>
    stack.client.workflow.execute(workflowTypes.retentionSweep, {
      taskQueue: taskQueueFor(stack.config.temporal.taskQueue, 'retentionSweep'),
      workflowId: `retention-test/${randomUUID()}`,
      args: [input],
    }) as Promise<RetentionSweepReport>;

  async function insertMessage(row: {
    businessId: string;
    createdAt: Knex.Raw;
    status: string;
    direction?: 'inbound' | 'outbound';
    body?: string;
    inReplyTo?: number;
    conversationId?: number;
  }): Promise<number> {
    const [inserted] = await stack
      .db('messages')
      .insert({
        direction: row.direction ?? 'inbound',
        business_id: row.businessId,
        phone_number_id: 'retention-number',
        customer_wa_id: null,
        type: 'text',
        body: row.body ?? 'an old message text',
        content: { text: { body: row.body ?? 'an old message text' } },
        sent_at: row.createdAt,
        created_at: row.createdAt,
        status: row.status,
        in_reply_to: row.inReplyTo ?? null,
        conversation_id: row.conversationId ?? null,
      } as never)
      .returning('id');
    return (inserted as { id: number }).id;
  }

  it('deletes exactly what is older than each setting, in batches, and nothing on a second run', async () => {
    const businessId = newBusinessId('retention');
    const db = stack.db;
    const M = DAYS.RETENTION_MESSAGES_DAYS;
    const T = DAYS.RETENTION_MESSAGE_TEXT_DAYS;

    // Messages: three past the messages setting (deleted), one reply to one of them (goes with it),
    // text past its setting (cleared, row kept), and rows past every setting that are still in use.
    const gone = [
      await insertMessage({ businessId, createdAt: older(M), status: 'replied' }),
      await insertMessage({ businessId, createdAt: older(M), status: 'no_reply' }),
      await insertMessage({ businessId, createdAt: older(M), status: 'failed' }),
    ];
    const goneReply = await insertMessage({
      businessId,
      createdAt: older(M),
      status: 'read',
      direction: 'outbound',
      inReplyTo: gone[0]!,
    });
    const keptYoung = await insertMessage({ businessId, createdAt: younger(M), status: 'replied' });
    const textCleared = await insertMessage({ businessId, createdAt: older(T), status: 'replied' });
    const textKept = await insertMessage({ businessId, createdAt: younger(T), status: 'covered' });
    const waiting = await insertMessage({ businessId, createdAt: older(M), status: 'received' });
    const sending = await insertMessage({ businessId, createdAt: older(M), status: 'unknown', direction: 'outbound' });
    const withSendInFlight = await insertMessage({ businessId, createdAt: older(M), status: 'replied' });
    const inFlightReply = await insertMessage({
      businessId,
      createdAt: older(M),
      status: 'sending',
      direction: 'outbound',
      inReplyTo: withSendInFlight,
    });
    const [customer] = await db('customers')
      .insert({ business_id: businessId, phone: `49${Date.now()}` })
      .returning('id');
    const [conversation] = await db('conversations')
      .insert({
        business_id: businessId,
        phone_number_id: `retention-${randomUUID()}`,
        customer_id: (customer as { id: number }).id,
      })
      .returning('id');
    const conversationId = (conversation as { id: number }).id;
    const inOpenTurn = await insertMessage({ businessId, createdAt: older(M), status: 'covered', conversationId });
    await db('turns').insert({
      conversation_id: conversationId,
      head_message_id: inOpenTurn,
      reply_to_message_id: inOpenTurn,
      message_ids: [inOpenTurn],
      state: 'open',
    });
    const withUnstartedWorkflow = await insertMessage({ businessId, createdAt: older(M), status: 'replied' });
    const outbox = (doneAt: Knex.Raw | null, messageId: number | null = null) => ({
      workflow_type: 'handleInboundMessage',
      workflow_id: `retention-test/${randomUUID()}`,
      task_queue: 'retention-test',
      args: db.raw(`'[]'::jsonb`),
      business_id: businessId,
      message_id: messageId,
      done_at: doneAt,
    });
    await db('workflow_starts').insert(outbox(null, withUnstartedWorkflow));
    const [oldStart, youngStart] = await db('workflow_starts')
      .insert([outbox(older(M)), outbox(younger(M))])
      .returning('id');

    const statusRow = (wamid: string, days: Knex.Raw) => ({
      wamid,
      status: 'delivered' as const,
      occurred_at: days,
      received_at: days,
    });
    const oldStatuses = [1, 2, 3].map(() => `wamid.retention-${randomUUID()}`);
    const youngStatus = `wamid.retention-${randomUUID()}`;
    await db('message_statuses').insert([
      ...oldStatuses.map((w) => statusRow(w, older(DAYS.RETENTION_STATUSES_DAYS))),
      statusRow(youngStatus, younger(DAYS.RETENTION_STATUSES_DAYS)),
    ]);

    const A = DAYS.RETENTION_ACCOUNT_EVENTS_DAYS;
    const waba = `retention-waba-${randomUUID()}`;
    const accountEvent = (at: Knex.Raw) => ({
      event_key: randomUUID(),
      field: 'account_update',
      waba_id: waba,
      value: {},
      received_at: at,
    });
    await db('account_events').insert([accountEvent(older(A)), accountEvent(older(A)), accountEvent(younger(A))]);
    const templateEvent = (at: Knex.Raw) => ({
      waba_id: waba,
      message_template_id: '1',
      field: 'message_template_status_update',
      event_key: randomUUID(),
      value: {},
      received_at: at,
    });
    await db('template_events').insert([templateEvent(older(A)), templateEvent(younger(A))]);
    await db('webhook_errors').insert([
      { phone_number_id: waba, received_at: older(A) },
      { phone_number_id: waba, received_at: younger(A) },
    ]);
    await db('phone_number_registration_attempts').insert([
      { phone_number_id: waba, attempted_at: older(A) },
      { phone_number_id: waba, attempted_at: younger(A) },
    ]);

    const O = DAYS.RETENTION_OAUTH_STATES_DAYS;
    await db('oauth_states').insert([
      { state_hash: `old-${randomUUID()}`, business_id: businessId, expires_at: older(O) },
      { state_hash: `young-${randomUUID()}`, business_id: businessId, expires_at: younger(O) },
    ]);
    await db('connect_tickets').insert([
      { ticket_hash: `old-${randomUUID()}`, business_id: businessId, expires_at: older(O) },
      { ticket_hash: `young-${randomUUID()}`, business_id: businessId, expires_at: younger(O) },
    ]);

    const S = DAYS.RETENTION_SIGNUP_EVENTS_DAYS;
    await db('signup_events').insert([
      { business_id: businessId, event: 'CANCEL', created_at: older(S) },
      { business_id: businessId, event: 'CANCEL', created_at: younger(S) },
    ]);
    const attempt = (finishedAt: Knex.Raw | null, label: string) => ({
      workflow_id: `retention-test/${label}-${randomUUID()}`,
      business_id: businessId,
      flow: 'redirect' as const,
      state: finishedAt ? ('failed' as const) : ('running' as const),
      started_at: older(S),
      finished_at: finishedAt,
    });
    await db('connect_attempts').insert([
      attempt(older(S), 'old'),
      attempt(younger(S), 'young'),
      attempt(null, 'running'),
    ]);

    const R = DAYS.RETENTION_REJECTED_DAYS;
    await db('rejected_items').insert([
      { kind: businessId, reason: '22P02', raw: '{}', received_at: older(R) },
      { kind: businessId, reason: '22P02', raw: '{}', received_at: younger(R) },
    ]);

    // Housekeeping: rows the pacer and the messaging limit no longer read.
    const number = `retention-${randomUUID()}`;
    await db('send_pacing').insert([
      { phone_number_id: number, recipient: '', next_slot_at: ago(3) },
      { phone_number_id: number, recipient: 'idle', next_slot_at: ago(3) },
      { phone_number_id: number, recipient: 'recent', next_slot_at: ago(0, 1) },
    ]);
    await db('messaging_limit_recipients').insert([
      { portfolio_key: number, recipient_key: 'old', phone_number_id: number, claimed_at: ago(3) },
      { portfolio_key: number, recipient_key: 'recent', phone_number_id: number, claimed_at: ago(0, 1) },
    ]);

    // Three batches per run at most: the sweep continues as new several times on its way.
    const report = await sweep({ maxBatchesPerRun: 3 });

    const ids = (rows: Array<{ id: number }>) => rows.map((r) => r.id).sort((a, b) => a - b);
    const byBusiness = await db('messages').where({ business_id: businessId }).select('id', 'body', 'content');
    const kept = [keptYoung, textCleared, textKept, waiting, sending, withSendInFlight, inFlightReply, inOpenTurn];
    kept.push(withUnstartedWorkflow);
    expect(ids(byBusiness)).toEqual(kept.sort((a, b) => a - b));
    expect(ids(byBusiness)).not.toContain(goneReply);
    const text = Object.fromEntries(byBusiness.map((r) => [r.id, r.body]));
    // Every row past the text setting that is no longer in flight lost its text; the rest kept it.
    for (const id of [keptYoung, textCleared, withSendInFlight, inOpenTurn, withUnstartedWorkflow])
      expect(text[id]).toBeNull();
    for (const id of [textKept, waiting, sending, inFlightReply]) expect(text[id]).toBe('an old message text');
    expect(byBusiness.find((r) => r.id === textCleared)!.content).toBeNull();

    const startIds = ids(await db('workflow_starts').where({ business_id: businessId }).select('id'));
    expect(startIds).not.toContain((oldStart as { id: number }).id);
    expect(startIds).toContain((youngStart as { id: number }).id);
    expect(startIds).toHaveLength(2);

    expect((await db('message_statuses').whereIn('wamid', [...oldStatuses, youngStatus])).map((r) => r.wamid)).toEqual([
      youngStatus,
    ]);
    for (const table of ['account_events', 'template_events'] as const)
      expect(await db(table).where({ waba_id: waba })).toHaveLength(1);
    for (const table of ['webhook_errors', 'phone_number_registration_attempts'] as const)
      expect(await db(table).where({ phone_number_id: waba })).toHaveLength(1);
    expect((await db('oauth_states').where({ business_id: businessId })).map((r) => r.state_hash)).toEqual([
      expect.stringMatching(/^young-/),
    ]);
    expect((await db('connect_tickets').where({ business_id: businessId })).map((r) => r.ticket_hash)).toEqual([
      expect.stringMatching(/^young-/),
    ]);
    expect(await db('signup_events').where({ business_id: businessId })).toHaveLength(1);
    expect((await db('connect_attempts').where({ business_id: businessId })).map((r) => r.state).sort()).toEqual([
      'failed',
      'running',
    ]);
    expect(await db('rejected_items').where({ kind: businessId })).toHaveLength(1);
    expect((await db('send_pacing').where({ phone_number_id: number })).map((r) => r.recipient).sort()).toEqual([
      '',
      'recent',
    ]);
    expect(
      (await db('messaging_limit_recipients').where({ portfolio_key: number })).map((r) => r.recipient_key),
    ).toEqual(['recent']);

    // Several batches where three rows went, for each table and across continued runs.
    expect(report.messages).toEqual({ deleted: 3, batches: 2 });
    expect(report.message_statuses).toEqual({ deleted: 3, batches: 2 });
    expect(report.account_events).toEqual({ deleted: 2, batches: 2 });
    // Text cleared: the five kept above, and the four rows deleted after (the text step runs first).
    expect(report['messages.text']!.deleted).toBe(9);
    expect(report.media).toEqual({ deleted: 0, batches: 1 });

    // Each step logs its count once, with kinds, tables and numbers only.
    const stepLines = logLines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((line) => line.msg === 'retention step done');
    expect(stepLines).toContainEqual(
      expect.objectContaining({ kind: 'messages', table: 'messages', deleted: 3, batches: 2 }),
    );
    expect(stepLines.some((line) => JSON.stringify(line).includes('an old message text'))).toBe(false);

    const again = await sweep();
    for (const [step, counts] of Object.entries(again))
      expect({ step, deleted: counts.deleted }).toEqual({ step, deleted: 0 });
  });

  it('keeps one retention Schedule per deployment, and its run sweeps', async () => {
    const ensure = () => ensureDeploymentSchedule(stack.client, stack.config, 'retentionSweep');
    expect(await ensure()).toBe('created');
    expect(await ensure()).toBe('updated');
    const handle = stack.client.schedule.getHandle(retentionScheduleId(stack.config.temporal.taskQueue));
    try {
      const description = await handle.describe();
      expect(description.policies.overlap).toBe(ScheduleOverlapPolicy.SKIP);
      expect(description.spec.intervals?.[0]?.every).toBe(stack.config.retention.sweepIntervalMs);
      expect(description.action).toMatchObject({
        workflowType: 'retentionSweep',
        taskQueue: taskQueueFor(stack.config.temporal.taskQueue, 'retentionSweep'),
      });
      await handle.trigger();
      let workflowId: string | undefined;
      await expect
        .poll(
          async () => {
            workflowId = (await handle.describe()).info.recentActions[0]?.action.workflow.workflowId;
            return workflowId;
          },
          { timeout: 20_000 },
        )
        .toBeTruthy();
      await expect(stack.client.workflow.getHandle(workflowId!).result()).resolves.toHaveProperty('media');
    } finally {
      await handle.delete();
    }
  });

  it('keeps message text and phone numbers out of a handled message workflow history', async () => {
    const { phoneNumberId } = await connectedIntegration(stack);
    const from = `4917${String(Date.now()).slice(-8)}`;
    const text = `retention probe ${randomBytes(6).toString('hex')}`;
    const { messageId: wamid } = stack.sandbox!.state.sendCustomerMessage({
      phoneNumberId,
      from,
      name: 'Probe Customer',
      type: 'text',
      text,
    });
    const inbound = () => stack.db('messages').where({ wamid, direction: 'inbound' }).first();
    await expect.poll(async () => (await inbound())?.status, { timeout: 30_000 }).toBe('replied');
    const row = await inbound();
    await stack.client.workflow.getHandle(messageWorkflowId(row!.id)).result();
    const history = await historyTexts(stack, messageWorkflowId(row!.id));

    const secrets = [text, from, wamid, 'Probe Customer', stack.config.reply.defaultText];
    expect(history.payloads).toBeGreaterThan(3);
    // The decoding worked: the activities' results are there in plain text.
    expect(history.plaintext).toContain('"outcome":"replied"');
    for (const secret of secrets) {
      expect(history.raw).not.toContain(secret);
      expect(history.stored).not.toContain(secret);
      expect(history.plaintext).not.toContain(secret);
    }
  });
});
