// After the chaos: drain, then check every message against PostgreSQL and the sandbox's own record
// of the calls it received, every workflow and every connect, and search logs, histories and
// plaintext columns for secrets. Prints the table; ok is false on any lost or duplicated reply or
// any other broken promise.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { codecKeyring, parseKeyring } from '../../src/crypto.js';
import { readIntegrationToken } from '../../src/store/integrations.js';
import { dataConverter } from '../../src/temporal/client.js';
import { EncryptionCodec } from '../../src/temporal/codec.js';
import type { BenchSystem } from '../bench/system.js';
import type { ConnectScenario } from './connect-scenario.js';
import { SecretScan } from './secret-scan.js';

export interface Posted {
  wamid: string;
  phoneNumberId: string;
  customer: string;
  postedAt: number;
  /** When our API first answered 200 for it: the order messages "arrived" in. */
  acceptedAt?: number;
}

export interface RunRecord {
  posted: Posted[];
  faults: Array<{ name: string; startedAt: number; endedAt: number }>;
  deliveries: { total: number; redeliveries: number; after200: number; failedAttempts: number; status503: number };
  connectScenarios: ConnectScenario[];
  /** Secrets of the layout besides the system's own (a private key, a database password). */
  moreSecrets?: string[];
  log: (line: string) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function checkRun(system: BenchSystem, run: RunRecord): Promise<{ ok: boolean }> {
  const { posted, log } = run;
  const state = system.sandbox.state;
  const ids = new Set(posted.map((p) => p.wamid));
  const sends = () =>
    state
      .calls({ operation: 'messages.send' })
      .filter((c) => c.effect === 'applied' && c.messageContextId && ids.has(c.messageContextId));

  // Drain: until every message reached a terminal state, or nothing moved for two minutes.
  const drainStarted = Date.now();
  let last = -1;
  let lastMove = Date.now();
  const closed = async () =>
    Number(
      (
        (await system
          .db('messages')
          .where({ direction: 'inbound' })
          .whereIn('wamid', [...ids])
          .whereNot({ status: 'received' })
          .count({ n: '*' })) as unknown as [{ n: number }]
      )[0].n,
    );
  for (;;) {
    const answered = await closed();
    if (answered >= ids.size) break;
    if (answered !== last) [last, lastMove] = [answered, Date.now()];
    if (Date.now() - lastMove > 120_000) break;
    await sleep(1000);
  }
  const keyring = parseKeyring(system.secrets.CREDENTIALS_ENCRYPTION_KEY);
  const client = new Client({
    connection: await Connection.connect(system.temporalConnection),
    dataConverter: dataConverter(codecKeyring(keyring)),
  });
  // Statuses and account events may still be in flight: wait for Temporal to go quiet too.
  let running: string[] = [];
  for (let i = 0; i < 120; i++) {
    running = [];
    for await (const w of client.workflow.list({ query: "ExecutionStatus = 'Running'" }))
      if (!w.workflowId.startsWith('temporal-sys')) running.push(`${w.type}:${w.workflowId}`);
    if (running.length === 0) break;
    await sleep(1000);
  }
  const drainMs = Date.now() - drainStarted;

  // Messages: stored once; each covered by exactly one turn; each turn answered by at most one send
  // (exactly one when it replied); the turns of a conversation answered in their order.
  const rows = await system
    .db('messages')
    .where({ direction: 'inbound' })
    .whereIn('wamid', [...ids])
    .select('id', 'wamid', 'status', 'conversation_id');
  const stored = new Set(rows.map((r) => r.wamid!));
  const notStored = [...ids].filter((id) => !stored.has(id)).length;
  const replies = sends();
  const perMessage = new Map<string, number>();
  for (const c of replies) perMessage.set(c.messageContextId!, (perMessage.get(c.messageContextId!) ?? 0) + 1);
  const rowIds = rows.map((r) => r.id);
  const wamidOf = new Map(rows.map((r) => [r.id, r.wamid!]));
  const turns = await system
    .db('turns')
    .whereIn('conversation_id', [...new Set(rows.map((r) => r.conversation_id).filter((c): c is number => c !== null))])
    .orderBy('id');
  const answeredTurns = turns.filter((t) => t.outcome === 'replied');
  const coveredBy = new Map<number, number>();
  // bigint[] arrives as strings from pg.
  for (const t of answeredTurns)
    for (const id of t.message_ids.map(Number)) coveredBy.set(id, (coveredBy.get(id) ?? 0) + 1);
  // Lost: still waiting, or closed as answered without a turn that sent.
  const lostIds = rows.filter(
    (r) => r.status === 'received' || ((r.status === 'replied' || r.status === 'covered') && !coveredBy.has(r.id)),
  );
  const lost = lostIds.length + notStored;
  const coveredTwice = [...coveredBy.values()].filter((n) => n > 1).length;
  const turnSends = (t: (typeof turns)[number]) => perMessage.get(wamidOf.get(t.reply_to_message_id) ?? '') ?? 0;
  const duplicated = coveredTwice + turns.filter((t) => turnSends(t) > 1).length;
  const unsentReplied = answeredTurns.filter((t) => turnSends(t) === 0).length;
  const replySeq = new Map(replies.map((c) => [c.messageContextId!, c.seq]));
  let outOfOrder = 0;
  const inversions: string[] = [];
  const byConversation = new Map<number, typeof answeredTurns>();
  for (const t of answeredTurns)
    byConversation.set(t.conversation_id, [...(byConversation.get(t.conversation_id) ?? []), t]);
  for (const list of byConversation.values()) {
    let previous = -1;
    for (const t of list) {
      const seq = replySeq.get(wamidOf.get(t.reply_to_message_id) ?? '');
      if (seq === undefined) continue;
      if (seq < previous) {
        outOfOrder++;
        inversions.push(
          `order: turn ${t.id} of conversation ${t.conversation_id} answered before the turn ahead of it`,
        );
      }
      previous = Math.max(previous, seq);
    }
  }
  const outcomes = new Map<string, number>();
  for (const r of rows) outcomes.set(r.status, (outcomes.get(r.status) ?? 0) + 1);
  void rowIds;
  const duplicates: string[] = [];
  for (const [id] of [...perMessage.entries()].filter(([, n]) => n > 1)) {
    const calls = state.calls({ operation: 'messages.send' }).filter((c) => c.messageContextId === id);
    duplicates.push(
      `duplicate ${id}: ${calls.map((c) => `${c.at.slice(11, 23)} ${c.status}${c.faulted ? ' faulted' : ''} ${c.effect} ${c.messageId ?? ''}`).join('; ')}`,
    );
    if (process.env.CHAOS_DEBUG) {
      const sentIds = calls.map((c) => c.messageId).filter(Boolean) as string[];
      const statuses = await system
        .db('message_statuses')
        .whereIn('wamid', sentIds)
        .select('wamid', 'status', 'occurred_at', 'received_at');
      const inbound = await system.db('messages').where({ wamid: id }).first();
      const reply = inbound ? await system.db('messages').where({ in_reply_to: inbound.id }).first() : undefined;
      const hooks = state.deliveries({}).filter((d) => sentIds.some((w) => JSON.stringify(d).includes(w)));
      duplicates.push(
        `   statuses ${JSON.stringify(statuses)} reply ${JSON.stringify(reply)} deliveries ${JSON.stringify(hooks.map((h) => [h.at, h.httpStatus, h.error]))}`,
      );
    }
  }

  // Workflows: none left running, none failed without a recorded reason.
  const failedWithoutReason: string[] = [];
  let failed = 0;
  for await (const w of client.workflow.list({ query: "ExecutionStatus = 'Failed'" })) {
    failed++;
    try {
      await client.workflow.getHandle(w.workflowId, w.runId).result();
    } catch (error) {
      const cause = error instanceof WorkflowFailedError ? error.cause : undefined;
      if (!cause?.message) failedWithoutReason.push(w.workflowId);
    }
  }

  // Connects: fully connected, or nothing persisted.
  const halfConnected: string[] = [];
  for (const attempt of await system.db('connect_attempts')) {
    const integration = await system.db('channel_integrations').where({ business_id: attempt.business_id }).first();
    const staged = await system.db('token_staging').where({ connect_id: attempt.workflow_id });
    if (attempt.state === 'running') halfConnected.push(`${attempt.workflow_id} still running`);
    if (attempt.state === 'succeeded') {
      const numbers = integration
        ? await system.db('whatsapp_phone_numbers').where({ integration_id: integration.id, is_active: true })
        : [];
      if (!integration?.is_active || numbers.length === 0 || !integration.credentials)
        halfConnected.push(`${attempt.workflow_id} succeeded without a working integration`);
    }
    if (
      attempt.state === 'failed' &&
      integration &&
      !(await system.db('connect_attempts').where({ business_id: attempt.business_id, state: 'succeeded' }).first())
    ) {
      halfConnected.push(`${attempt.workflow_id} failed but left an integration`);
    }
    if (attempt.state !== 'running' && staged.length > 0)
      halfConnected.push(`${attempt.workflow_id} left staged secrets`);
  }
  for (const s of run.connectScenarios) {
    if (!s.connected) halfConnected.push(`${s.businessId} did not connect`);
    if (s.codeExchanges !== 1) halfConnected.push(`${s.businessId} exchanged its code ${s.codeExchanges} times`);
  }

  // Secrets: nowhere in logs, workflow histories or plaintext columns.
  const secrets = [
    system.secrets.META_APP_SECRET,
    system.secrets.AUTH_JWT_SECRET,
    system.secrets.WHATSAPP_VERIFY_TOKEN,
    system.secrets.CREDENTIALS_ENCRYPTION_KEY.split(':')[1]!,
    ...(run.moreSecrets ?? []),
  ];
  for (const i of await system.db('channel_integrations').select('id')) {
    const token = await readIntegrationToken(system.db, keyring, i.id);
    if (token) secrets.push(token);
  }
  const scan = new SecretScan(secrets);
  for (const file of readdirSync(system.dir).filter((f) => f.endsWith('.log'))) {
    scan.searched.logs++;
    scan.search(`log ${file}`, readFileSync(join(system.dir, file), 'utf8'));
  }
  // Every workflow type: connects and token care carry tokens through activities, message
  // workflows must carry ids only.
  const codec = new EncryptionCodec(codecKeyring(keyring));
  for await (const w of client.workflow.list({ query: "ExecutionStatus != 'Running'" })) {
    if (w.workflowId.startsWith('temporal-sys')) continue;
    await scan.searchHistory(
      `history ${w.workflowId}`,
      await client.workflow.getHandle(w.workflowId, w.runId).fetchHistory(),
      codec,
    );
  }
  const tables = [
    'channel_integrations',
    'whatsapp_business_accounts',
    'whatsapp_phone_numbers',
    'messages',
    'message_statuses',
    'connect_attempts',
    'oauth_states',
    'token_staging',
    'account_events',
  ];
  for (const table of tables) {
    scan.searched.tables++;
    scan.search(`table ${table}`, JSON.stringify(await system.db(table).select('*')));
  }
  const leaks = [...scan.leaks, ...scan.emptiness()];

  // Recovery: from the end of each fault to the first reply to a message posted after it.
  const replyAt = new Map(replies.map((c) => [c.messageContextId!, Date.parse(c.at)]));
  const recovery = run.faults.map((f) => {
    const after = posted
      .filter((p) => p.postedAt >= f.endedAt && replyAt.has(p.wamid))
      .map((p) => replyAt.get(p.wamid)!);
    const first = after.length ? Math.min(...after) : NaN;
    // Served meanwhile: messages posted while the fault lasted that were answered, and the slowest.
    const during = posted.filter((p) => p.postedAt >= f.startedAt && p.postedAt < f.endedAt);
    const waits = during.filter((p) => replyAt.has(p.wamid)).map((p) => (replyAt.get(p.wamid)! - p.postedAt) / 1000);
    return {
      name: f.name,
      seconds: (first - f.endedAt) / 1000,
      lasted: (f.endedAt - f.startedAt) / 1000,
      during: during.length,
      answered: waits.length,
      slowest: waits.length ? Math.max(...waits) : NaN,
    };
  });

  const table: Array<[string, string | number]> = [
    ['messages (unique)', ids.size],
    [
      'deliveries (with redeliveries)',
      `${run.deliveries.total} (${run.deliveries.redeliveries} redeliveries, ${run.deliveries.after200} after a 200)`,
    ],
    ['503s answered', run.deliveries.status503],
    ['failed delivery attempts (503, refused, reset)', run.deliveries.failedAttempts],
    // Stored twice cannot happen (a unique index on the wamid): the count of rows is the check.
    ['stored (not stored)', `${rows.length} (${notStored})`],
    ['replies (turns answered)', `${replies.length} (${answeredTurns.length} of ${turns.length} turns)`],
    ['terminal states', [...outcomes].map(([k, n]) => `${k} ${n}`).join(', ')],
    ['lost (covered by no turn, or not stored)', lost],
    ['duplicated (covered by two turns, or a turn sent twice)', duplicated],
    ['turns closed replied without a send', unsentReplied],
    ['turns answered out of order', outOfOrder],
    ['workflows still running', running.length],
    ['workflows failed (without a reason)', `${failed} (${failedWithoutReason.length})`],
    ['connects half-done', halfConnected.length],
    [
      'secret leaks (logs, histories and their decoded payloads, tables searched)',
      `${scan.leaks.length} (${scan.searched.logs} logs, ${scan.searched.histories} histories, ${scan.searched.payloads} payloads, ${scan.searched.tables} tables)`,
    ],
    ['drain after the last delivery', `${(drainMs / 1000).toFixed(1)} s`],
  ];
  const width = Math.max(...table.map(([k]) => k.length));
  log('results');
  for (const [k, v] of table) process.stdout.write(`  ${k.padEnd(width)}  ${v}\n`);
  process.stdout.write(
    '  recovery after each fault (fault duration → first reply to a message posted after it; messages posted during it that were answered, and the slowest of them):\n',
  );
  const seconds = (n: number) => (Number.isNaN(n) ? 'n/a' : `${n.toFixed(1)} s`);
  for (const r of recovery)
    process.stdout.write(
      `    ${r.name.padEnd(58)} lasted ${r.lasted.toFixed(1)} s, recovered ${seconds(r.seconds)}; during it ${r.answered} of ${r.during} answered, slowest ${seconds(r.slowest)}\n`,
    );
  for (const problem of [
    ...halfConnected,
    ...leaks,
    ...running.slice(0, 10),
    ...failedWithoutReason,
    ...duplicates.slice(0, 10),
    ...inversions.slice(0, 10),
  ])
    process.stdout.write(`  ! ${problem}\n`);
  await client.connection.close();
  // Fails on any lost or duplicated reply, any turn answered out of order, any broken promise.
  const ok =
    lost === 0 &&
    duplicated === 0 &&
    outOfOrder === 0 &&
    unsentReplied === 0 &&
    notStored === 0 &&
    running.length === 0 &&
    failedWithoutReason.length === 0 &&
    halfConnected.length === 0 &&
    leaks.length === 0;
  process.stdout.write(ok ? '  PASS\n' : '  FAIL\n');
  return { ok };
}
