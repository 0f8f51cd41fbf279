// npm run bench:webhooks — the message path's figures, each beside its anchor measured in the same
// run on the same machine (absolute times drift on shared machines; ratios hold):
//   1. idle latency, webhook → send at Meta, with the rules responder; server round trips per
//      message counted from the histories of those messages;
//   2. drain: replies per second (with Meta's sent/delivered/read statuses posted back, as Meta
//      does) beside a one-activity workflow's completion rate on the same Temporal server;
//   3. acknowledgement p99 at 1,000 webhooks/s offered, with Temporal up and with it stopped;
//   4. acknowledgement at the highest rate 32 connections allow, beside a bare server that checks
//      the same HMAC and inserts one row into the same PostgreSQL.
// The API and worker run as separate processes (test/bench/system.ts), the sandbox plays Meta.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Worker } from '@temporalio/worker';
import { signBody } from '../../src/meta/signature.js';
import { messageWorkflowId } from '../../src/temporal/names.js';
import { connectThroughMeta, getStatus } from '../helpers/meta-flow.js';
import { freePort } from '../helpers/ports.js';
import { median, percentile, startSystem } from './system.js';

const ackSeconds = Number(process.env.ACK_SECONDS ?? 20);
const drainMessages = Number(process.env.DRAIN_MESSAGES ?? 400);
const customersPerNumber = 400;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const say = (line: string) => console.log(line);

const system = await startSystem();
const figures: string[] = [];
try {
  const numbers: string[] = [];
  for (let i = 0; i < 3; i++) {
    const businessId = `bench-webhooks-${i}`;
    await connectThroughMeta(system.apiUrl, businessId, { decision: 'approve' }, system.secrets.AUTH_JWT_SECRET);
    const status = await getStatus(system.apiUrl, businessId, system.secrets.AUTH_JWT_SECRET);
    for (const account of status.accounts) for (const n of account.phoneNumbers) numbers.push(n.phoneNumberId);
  }
  const state = system.sandbox.state;
  for (const n of numbers) state.setStatusMode(n, { stopAt: 'read' });
  const sendAt = () => {
    const at = new Map<string, number>();
    for (const c of state.calls({ operation: 'messages.send' }))
      if (c.effect === 'applied' && c.messageContextId && !at.has(c.messageContextId))
        at.set(c.messageContextId, Date.parse(c.at));
    return at;
  };
  let sequence = 0;
  const compose = () => {
    const n = sequence++;
    const phoneNumberId = numbers[n % numbers.length]!;
    const from = `4915${String(100000 + ((n * 7919) % customersPerNumber)).padStart(6, '0')}`;
    const { payload, messageIds } = state.composeCustomerMessages([
      { phoneNumberId, from, type: 'text', text: `bench message ${n}` },
    ]);
    return { body: JSON.stringify(payload), wamid: messageIds[0]! };
  };
  const load = (url: string, options: { rate?: number; seconds: number; posted?: Map<string, number> }) =>
    autocannon({
      url,
      connections: 32,
      ...(options.rate ? { overallRate: options.rate } : {}),
      duration: options.seconds,
      requests: [
        {
          method: 'POST',
          setupRequest: (request) => {
            const { body, wamid } = compose();
            options.posted?.set(wamid, Date.now());
            return {
              ...request,
              body,
              headers: {
                'content-type': 'application/json',
                'x-hub-signature-256': signBody(body, system.secrets.META_APP_SECRET),
              },
            };
          },
        },
      ],
    });
  const webhookUrl = `${system.apiUrl}/api/webhooks/whatsapp`;
  const temporal = new Client({ connection: await Connection.connect(system.temporalConnection) });

  // 1. Idle latency and round trips.
  {
    const posted = new Map<string, number>();
    for (let i = 0; i < 20; i++) {
      const phoneNumberId = numbers[i % numbers.length]!;
      const before = Date.now();
      const { messageId } = state.sendCustomerMessage({
        phoneNumberId,
        from: `4916${String(200000 + i)}`,
        type: 'text',
        text: `idle ${i}`,
      });
      posted.set(messageId, before);
      await sleep(300);
    }
    await sleep(2_000);
    const at = sendAt();
    const latencies = [...posted].filter(([id]) => at.has(id)).map(([id, t]) => at.get(id)! - t);
    const p50 = median(latencies);
    figures.push(
      `idle webhook→send at Meta (rules): p50 ${p50} ms, p99 ${percentile(latencies, 99)} ms over ${latencies.length} messages; target p50 < 150 ms: ${p50 < 150 ? 'met' : 'MISSED'}`,
    );
    // Round trips from the histories: the start, then a poll and a completion per workflow task
    // and per regular activity task, plus any signal sent to it.
    const trips: number[] = [];
    const rows = await system
      .db('messages')
      .whereIn('wamid', [...posted.keys()])
      .select('id');
    for (const row of rows) {
      const history = await temporal.workflow.getHandle(messageWorkflowId(row.id)).fetchHistory();
      const events = history.events ?? [];
      const count = (key: string) => events.filter((e) => (e as Record<string, unknown>)[key]).length;
      trips.push(
        1 +
          2 * count('workflowTaskCompletedEventAttributes') +
          2 * count('activityTaskStartedEventAttributes') +
          count('workflowExecutionSignaledEventAttributes'),
      );
    }
    const all = [...new Set(trips)].sort().join(', ');
    figures.push(
      `server round trips per message (happy path, from ${trips.length} histories): ${median(trips)} (seen: ${all}); target ≤ 3: ${Math.max(...trips) <= 3 ? 'met' : 'MISSED'}; before this change 12`,
    );
  }

  // 2. Drain beside the one-activity workflow.
  let anchorRate = NaN;
  {
    const connection = await NativeConnection.connect({ address: system.temporal.address });
    const { code } = await bundleWorkflowCode({
      workflowsPath: fileURLToPath(new URL('./anchor-workflows.js', import.meta.url)),
      logger: {
        log: () => undefined,
        trace: () => undefined,
        debug: () => undefined,
        info: () => undefined,
        warn: () => undefined,
        error: console.error,
      },
    });
    const worker = await Worker.create({
      connection,
      taskQueue: 'bench-anchor',
      workflowBundle: { code },
      activities: { noop: async () => undefined },
    });
    await worker.runUntil(async () => {
      const n = drainMessages;
      const started = Date.now();
      const handles = await Promise.all(
        Array.from({ length: n }, (_, i) =>
          temporal.workflow.start('oneActivity', {
            taskQueue: 'bench-anchor',
            workflowId: `bench-anchor-${started}-${i}`,
          }),
        ),
      );
      await Promise.all(handles.map((h) => h.result()));
      anchorRate = n / ((Date.now() - started) / 1000);
    });
    await connection.close();
  }
  {
    const posted = new Map<string, number>();
    const started = Date.now();
    await load(webhookUrl, { rate: 200, seconds: Math.max(1, Math.ceil(drainMessages / 200)), posted });
    for (let waited = 0; waited < 600_000; waited += 1_000) {
      const at = sendAt();
      if ([...posted.keys()].every((id) => at.has(id))) break;
      await sleep(1_000);
    }
    const at = sendAt();
    const answered = [...posted.keys()].filter((id) => at.has(id));
    const last = Math.max(...answered.map((id) => at.get(id)!));
    const rate = answered.length / ((last - started) / 1000);
    const dup =
      state
        .calls({ operation: 'messages.send' })
        .filter((c) => c.effect === 'applied' && posted.has(c.messageContextId ?? '')).length - answered.length;
    figures.push(
      `drain: ${answered.length} of ${posted.size} messages replied at ${rate.toFixed(1)} replies/s (statuses sent, delivered, read posted back); ` +
        `one-activity workflow ${anchorRate.toFixed(1)}/s; ratio ${(rate / anchorRate).toFixed(2)}× (target ≥ 1.5×: ${rate / anchorRate >= 1.5 ? 'met' : 'MISSED'}); duplicates ${dup}`,
    );
  }

  // 3. p99 at 1,000/s offered, Temporal up, then stopped.
  for (const temporalUp of [true, false]) {
    if (!temporalUp) await system.stopTemporal();
    const result = await load(webhookUrl, { rate: 1000, seconds: 10 });
    const ok = result['2xx'];
    figures.push(
      `acknowledgement at 1,000/s offered, Temporal ${temporalUp ? 'up' : 'stopped'}: ${(ok / 10).toFixed(0)}/s acknowledged, ${result.non2xx} non-2xx, ` +
        `p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms (target < 50 ms: ${result.latency.p99 < 50 ? 'met' : 'MISSED'})`,
    );
    if (!temporalUp) await system.startTemporal();
  }

  // 4. Highest rate 32 connections allow: the bare HMAC + insert server, then ours.
  {
    const port = await freePort();
    const bare = spawn(process.execPath, [fileURLToPath(new URL('./bare-server.js', import.meta.url))], {
      env: {
        ...process.env,
        DATABASE_URL: system.databaseUrl,
        META_APP_SECRET: system.secrets.META_APP_SECRET,
        PORT: String(port),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve) => bare.stdout!.once('data', () => resolve()));
    const anchor = await load(`http://127.0.0.1:${port}/`, { seconds: ackSeconds });
    bare.kill('SIGTERM');
    const ours = await load(webhookUrl, { seconds: ackSeconds });
    const anchorRps = anchor['2xx'] / ackSeconds;
    const oursRps = ours['2xx'] / ackSeconds;
    figures.push(
      `acknowledgement at the highest rate (32 connections, ${ackSeconds} s): ${oursRps.toFixed(0)}/s (p99 ${ours.latency.p99} ms, ${ours.non2xx} non-2xx); ` +
        `bare HMAC + insert ${anchorRps.toFixed(0)}/s (p99 ${anchor.latency.p99} ms); ratio ${(oursRps / anchorRps).toFixed(2)}× (target ≥ 0.5×: ${oursRps / anchorRps >= 0.5 ? 'met' : 'MISSED'})`,
    );
  }
  await temporal.connection.close();
} finally {
  for (const line of figures) say(line);
  await system.stop();
}
