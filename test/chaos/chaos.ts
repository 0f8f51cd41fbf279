// npm run chaos [-- --seconds N --rate R --layout dev|production] — the real system under load
// and faults, then counts. In the dev layout the API and worker run as processes, Temporal's dev
// server on a database file, PostgreSQL of the run's own, the sandbox as Meta. In the production
// layout (test/layout/production.ts) a full Temporal server on that PostgreSQL with mTLS, two APIs
// behind a balancer and two workers: one pair is killed while the other keeps serving. The driver delivers signed webhooks as Meta does (again with backoff until 200;
// a share again after a 200, late, out of order, concurrently) while it kills and restarts
// everything in turn. Then it drains and checks every message against PostgreSQL and the sandbox.
import { signBody } from '../../src/meta/signature.js';
import { connectThroughMeta, getStatus } from '../helpers/meta-flow.js';
import { readFileSync } from 'node:fs';
import { startSystem, type BenchSystem } from '../bench/system.js';
import { startProductionLayout } from '../layout/production.js';
import { checkRun, type Posted } from './checks.js';
import { connectUnderFaults, type ConnectScenario } from './connect-scenario.js';

const args = new Map(process.argv.slice(2).map((a, i, all) => [a, all[i + 1]]));
const seconds = Number(args.get('--seconds') ?? 110);
const rate = Number(args.get('--rate') ?? 4);
const layout = args.get('--layout') ?? 'dev';
if (layout !== 'dev' && layout !== 'production') throw new Error(`--layout is dev or production, not ${layout}`);
const tls = !process.argv.includes('--no-tls');
const businesses = 3;
const customersPerNumber = 12;

const log = (line: string) => process.stdout.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Fault {
  name: string;
  startedAt: number;
  endedAt: number;
}

const serviceEnv = {
  LOG_LEVEL: 'info',
  CALLBACK_WAIT_MS: '2000',
  GRAPH_TIMEOUT_MS: '5000',
  SEND_UNKNOWN_OUTCOME_GRACE_MS: '10000',
};
const production = layout === 'production' ? await startProductionLayout({ tls, env: serviceEnv, log }) : undefined;
const system: BenchSystem = production ?? (await startSystem({ ownPostgres: true, env: serviceEnv, log }));
// The layout's own secrets join the scan: the client certificate's key, the database password.
const moreSecrets = production
  ? [
      new URL(production.databaseUrl).password,
      ...(production.certificates
        ? [production.certificates.clientKey, production.certificates.serverKey].map((file) =>
            readFileSync(file, 'utf8')
              .split('\n')
              .filter((line) => line && !line.startsWith('-----'))
              .join(''),
          )
        : []),
    ]
  : [];
let exitCode = 1;
try {
  const state = system.sandbox.state;
  const numbers: string[] = [];
  for (let i = 0; i < businesses; i++) {
    const businessId = `chaos-${i}`;
    await connectThroughMeta(system.apiUrl, businessId, { decision: 'approve' }, system.secrets.AUTH_JWT_SECRET);
    // The callback may land on "pending" (CALLBACK_WAIT_MS): the load starts once every number is in.
    let status = await getStatus(system.apiUrl, businessId, system.secrets.AUTH_JWT_SECRET);
    for (const deadline = Date.now() + 60_000; !status.connected && Date.now() < deadline;) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      status = await getStatus(system.apiUrl, businessId, system.secrets.AUTH_JWT_SECRET);
    }
    if (!status.connected) throw new Error(`${businessId} did not connect within 60 s`);
    for (const account of status.accounts) for (const n of account.phoneNumbers) numbers.push(n.phoneNumberId);
  }
  log(
    `${layout} layout${production ? ` (${system.instances.api.length} APIs, ${system.instances.worker.length} workers${production.certificates ? ', mTLS' : ''})` : ''}: ` +
      `connected ${businesses} businesses, ${numbers.length} numbers; load ${rate} messages/s for ${seconds} s`,
  );

  const posted: Posted[] = [];
  const deliveries = { total: 0, redeliveries: 0, after200: 0, failedAttempts: 0, status503: 0 };
  const inFlight = new Set<Promise<void>>();
  const track = (p: Promise<void>) => {
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  };

  /** Delivers like Meta: again with backoff until a 200. */
  async function deliver(body: string, record?: Posted): Promise<void> {
    const signature = signBody(body, system.secrets.META_APP_SECRET);
    for (let attempt = 0; ; attempt++) {
      deliveries.total++;
      if (attempt > 0) deliveries.redeliveries++;
      try {
        const res = await fetch(`${system.apiUrl}/api/webhooks/whatsapp`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-hub-signature-256': signature },
          body,
          signal: AbortSignal.timeout(15_000),
        });
        await res.body?.cancel();
        if (res.status === 200) {
          if (record && record.acceptedAt === undefined) record.acceptedAt = Date.now();
          return;
        }
        if (res.status === 503) deliveries.status503++;
        deliveries.failedAttempts++;
      } catch {
        deliveries.failedAttempts++;
      }
      await sleep(Math.min(10_000, 300 * 2 ** attempt));
    }
  }

  function send(n: number): void {
    const phoneNumberId = numbers[n % numbers.length]!;
    const customer = `4917${String(n % (numbers.length * customersPerNumber)).padStart(7, '0')}`;
    // Every fifth POST carries a batch of two or three lines from the customer (one turn, or two).
    const lines = n % 5 === 0 ? 2 + (n % 2) : 1;
    const { payload, messageIds } = state.composeCustomerMessages(
      Array.from({ length: lines }, (_, i) => ({
        phoneNumberId,
        from: customer,
        type: 'text',
        text: `chaos ${n}.${i}`,
      })),
    );
    const body = JSON.stringify(payload);
    const records: Posted[] = messageIds.map((wamid) => ({ wamid, phoneNumberId, customer, postedAt: Date.now() }));
    posted.push(...records);
    const record = records[0]!;
    track(deliver(body, record));
    // Account events ride along in the load (statuses of every reply already do).
    if (n % 25 === 0)
      state.setNumberQuality(phoneNumberId, { qualityRating: n % 50 === 0 ? 'YELLOW' : 'GREEN', emit: true });
    const roll = Math.random();
    // A share is delivered again even after a 200: concurrently, late, or much later (out of order).
    if (roll < 0.05) track(deliver(body).then(() => void deliveries.after200++));
    else if (roll < 0.1)
      track(
        sleep(1000 + Math.random() * 4000)
          .then(() => deliver(body))
          .then(() => void deliveries.after200++),
      );
    else if (roll < 0.13)
      track(
        sleep(15_000 + Math.random() * 20_000)
          .then(() => deliver(body))
          .then(() => void deliveries.after200++),
      );
  }

  // The fault plan: each fault twice, one after another (never two at once), spread over the run.
  const faults: Fault[] = [];
  const restart = (name: 'worker' | 'api') => async () => {
    const instance = system.instances[name][0]!;
    await system.killService(instance, 'SIGKILL');
    await sleep(2000);
    await system.startService(instance);
  };
  /** One API and one worker killed, down for a while, while the other pair keeps serving. */
  const pairDown = (index: number, seconds: number) => async () => {
    const pair = [system.instances.api[index]!, system.instances.worker[index]!];
    for (const name of pair) await system.killService(name, 'SIGKILL');
    await sleep(seconds * 1000);
    for (const name of pair) await system.startService(name);
  };
  const restartPostgres = async () => {
    await system.postgres!.stop();
    await sleep(2000);
    await system.postgres!.start();
  };
  const restartTemporal = (signal: NodeJS.Signals, seconds: number) => async () => {
    await system.stopTemporal(signal);
    await sleep(seconds * 1000);
    await system.startTemporal();
  };
  const metaFaults = async () => {
    for (const n of numbers) {
      state.addFault({ operation: 'messages.send', status: 500, objectId: n });
      state.addFault({ operation: 'messages.send', status: 503, objectId: n });
      state.addFault({
        operation: 'messages.send',
        status: 429,
        error: { code: 130429, message: 'Rate limit hit' },
        objectId: n,
      });
      state.addFault({ operation: 'messages.send', hangMs: 50_000, objectId: n });
      state.addFault({ operation: 'messages.send', hangMs: 50_000, effect: 'after', objectId: n });
      state.addFault({ operation: 'messages.read', status: 500, times: 3, objectId: n });
    }
    await sleep(5000);
  };
  const connectScenarios: ConnectScenario[] = [];
  const connect = (businessId: string) => async () =>
    void connectScenarios.push(await connectUnderFaults(system, businessId, log));
  const connectName = 'connect, worker killed mid-way, callback reloaded 3 times';
  const metaName = 'Meta: send 500/503/429/hangs, mark-read 500';
  const plan: Array<{ at: number; name: string; run: () => Promise<void> }> =
    layout === 'dev'
      ? [
          { at: 0.02, name: connectName, run: connect('chaos-connect-a') },
          { at: 0.1, name: 'worker SIGKILL', run: restart('worker') },
          { at: 0.16, name: 'API SIGKILL', run: restart('api') },
          { at: 0.22, name: 'PostgreSQL restart', run: restartPostgres },
          { at: 0.28, name: 'Temporal stopped 20 s', run: restartTemporal('SIGTERM', 20) },
          { at: 0.5, name: metaName, run: metaFaults },
          { at: 0.55, name: connectName, run: connect('chaos-connect-b') },
          { at: 0.62, name: 'worker SIGKILL', run: restart('worker') },
          { at: 0.67, name: 'API SIGKILL', run: restart('api') },
          { at: 0.72, name: 'PostgreSQL restart', run: restartPostgres },
          // Webhooks keep arriving and get 200 while Temporal is away: the outbox holds the starts.
          { at: 0.76, name: 'Temporal stopped 60 s', run: restartTemporal('SIGTERM', 60) },
          { at: 0.95, name: metaName, run: metaFaults },
        ]
      : [
          { at: 0.02, name: connectName, run: connect('chaos-connect-a') },
          { at: 0.1, name: 'api-1 and worker-1 SIGKILL, down 15 s', run: pairDown(0, 15) },
          { at: 0.22, name: 'PostgreSQL restart', run: restartPostgres },
          { at: 0.3, name: 'Temporal server SIGKILL, down 10 s', run: restartTemporal('SIGKILL', 10) },
          { at: 0.45, name: metaName, run: metaFaults },
          { at: 0.5, name: connectName, run: connect('chaos-connect-b') },
          { at: 0.58, name: 'api-2 and worker-2 SIGKILL, down 15 s', run: pairDown(1, 15) },
          { at: 0.7, name: 'PostgreSQL restart', run: restartPostgres },
          { at: 0.78, name: 'Temporal server restarted (SIGTERM), down 30 s', run: restartTemporal('SIGTERM', 30) },
          { at: 0.95, name: metaName, run: metaFaults },
        ];

  const started = Date.now();
  const faultRun = (async () => {
    for (const step of plan) {
      await sleep(Math.max(0, started + step.at * seconds * 1000 - Date.now()));
      const fault = { name: step.name, startedAt: Date.now(), endedAt: 0 };
      log(`fault: ${step.name}`);
      try {
        await step.run();
      } finally {
        fault.endedAt = Date.now();
        faults.push(fault);
        log(`fault over: ${step.name} (${((fault.endedAt - fault.startedAt) / 1000).toFixed(1)} s)`);
      }
    }
  })();
  let faultsDone = false;
  void faultRun.finally(() => (faultsDone = true));
  // The load runs for the given time and at least until the last fault is over (plus a little).
  let loadEnd = started + seconds * 1000;
  void faultRun.finally(() => (loadEnd = Math.max(loadEnd, Date.now() + 5000)));
  for (let n = 0; !faultsDone || Date.now() < loadEnd; n++) {
    send(n);
    const next = started + ((n + 1) * 1000) / rate;
    await sleep(Math.max(0, next - Date.now()));
  }
  log(`load done: ${posted.length} messages; waiting for the faults and deliveries to finish`);
  await faultRun;
  while (inFlight.size > 0) await Promise.race(inFlight);
  log('every message delivered with a 200; draining');

  const report = await checkRun(system, { posted, faults, deliveries, connectScenarios, moreSecrets, log });
  exitCode = report.ok ? 0 : 1;
} catch (error) {
  log(`chaos run failed: ${(error as Error).stack ?? String(error)}`);
} finally {
  await system.stop().catch((error: unknown) => log(`stop failed: ${String(error)}`));
  process.exit(exitCode);
}
