// npm run record:histories — records one workflow history per branch the workflows can take, from
// a real run: a Temporal dev server of its own, a fresh PostgreSQL database, the worker and the API
// in this process, the Meta sandbox as Meta (its fault injection for the failures) and a small
// "AI brain" for the HTTP responder. Each scenario goes through the product's HTTP API and the
// sandbox, waits for its workflow to close, writes `temporal workflow show --output json` into
// test/fixtures/histories/<branch>.json, and checks that the history really took that branch.
// `npm test` replays every file there against today's workflow code (test/replay.test.ts).
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { startApi } from '../../src/commands/api.js';
import { startWorker } from '../../src/commands/worker.js';
import { loadConfig, SANDBOX_APP_ID } from '../../src/config.js';
import { codecKeyring, parseKeyring } from '../../src/crypto.js';
import { createDb, dropDatabase, ensureDatabase, migrateLatest } from '../../src/db.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/dev/postgres.js';
import { createLogger } from '../../src/logger.js';
import { projectRoot } from '../../src/paths.js';
import { startSandbox } from '@waconnect/meta-sandbox';
import { findTemporalCli } from '../../src/temporal/cli.js';
import { dataConverter } from '../../src/temporal/client.js';
import { startDevServer } from '../../src/temporal/dev-server.js';
import {
  businessAppSyncWorkflowId,
  disconnectWorkflowId,
  erasureWorkflowId,
  messageWorkflowId,
  registrationWorkflowId,
  templateSyncStart,
  refreshWorkflowId,
  taskQueueFor,
  tokenScheduleId,
  workflowTypes,
} from '../../src/temporal/names.js';
import { authHeaders, tokenFor } from '../helpers/jwt.js';
import { connectThroughMeta, getStatus } from '../helpers/meta-flow.js';
import { freePort } from '../helpers/ports.js';
import { TEST_SECRETS } from '../helpers/secrets.js';
import { FIXTURE_KEY, HISTORIES_DIR, RECORDED_BRANCHES, type Branch } from './fixtures.js';
import { expectBranch, History, type HistoryJson } from './history.js';

const say = (line: string) => process.stdout.write(`[record] ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(
  what: string,
  probe: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await Promise.resolve()
      .then(probe)
      .catch(() => undefined);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

// The AI brain behind REPLY_WEBHOOK_URL: answers per message text, so each scenario picks its own.
const BRAIN_SECRET = randomBytes(16).toString('hex');
const brainSeen = new Set<string>();
const brain: Server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = JSON.parse(Buffer.concat(chunks).toString()) as {
      version?: number;
      text?: string;
      messageId: string;
      messages?: Array<{ messageId: string; text: string | null }>;
    };
    const answer = (status: number, payload: string, delayMs = 0) =>
      setTimeout(() => {
        if (res.destroyed) return;
        res.writeHead(status, { 'content-type': 'application/json' }).end(payload);
      }, delayMs);
    if (body.version === 2) {
      // Version 2: several messages, or a handoff to a person.
      const last = body.messages!.at(-1)!;
      brainSeen.add(last.messageId);
      if ((last.text ?? '').startsWith('hand over'))
        return answer(200, JSON.stringify({ messages: [], handoff: { note: 'asked for a person' } }));
      return answer(200, JSON.stringify({ messages: [{ text: 'one' }, { text: 'two' }] }));
    }
    brainSeen.add(body.messageId);
    const text = body.text ?? '';
    if (text.startsWith('garbage')) return answer(200, '{"reply": 42, "oops": ');
    if (text.startsWith('slow'))
      return answer(200, JSON.stringify({ reply: { type: 'text', text: 'thought about it' } }), 12_000);
    if (text.startsWith('first'))
      return answer(200, JSON.stringify({ reply: { type: 'text', text: 'answer to the first' } }), 3000);
    return answer(200, JSON.stringify({ reply: { type: 'text', text: `brain: ${text}` } }));
  });
});
await new Promise<void>((resolve) => brain.listen(0, '127.0.0.1', resolve));
const brainUrl = `http://127.0.0.1:${(brain.address() as AddressInfo).port}/reply`;

const dir = mkdtempSync(join(tmpdir(), 'waconnect-histories-'));
chmodSync(dir, 0o755);
const cleanups: Array<() => Promise<unknown>> = [async () => rmSync(dir, { recursive: true, force: true })];
const cleanup = async () => {
  for (const step of cleanups.reverse()) await step().catch((error: unknown) => console.error(error));
};

let failed = false;
try {
  // PostgreSQL: a database of the run's own on DATABASE_URL's server, or an embedded server.
  let databaseUrl: string;
  if (process.env.DATABASE_URL) {
    const url = new URL(process.env.DATABASE_URL);
    url.pathname = `/waconnect_histories_${randomBytes(4).toString('hex')}`;
    databaseUrl = url.toString();
    await ensureDatabase(databaseUrl);
    cleanups.push(() => dropDatabase(databaseUrl));
  } else {
    const postgres: EmbeddedPostgres = await startEmbeddedPostgres({
      dataDir: join(dir, 'postgres'),
      port: await freePort(),
      password: 'histories',
      database: 'waconnect',
    });
    cleanups.push(() => postgres.stop());
    databaseUrl = postgres.url;
    await ensureDatabase(databaseUrl);
  }
  {
    const db = createDb(databaseUrl, { poolMax: 1 });
    await migrateLatest(db);
    await db.destroy();
  }

  const cli = await findTemporalCli({ projectRoot, log: say });
  if (cli.kind !== 'path')
    throw new Error(
      'recording needs the Temporal CLI (for `temporal workflow show`): set TEMPORAL_CLI_PATH or put `temporal` on PATH',
    );
  const temporal = await startDevServer({ cli, port: await freePort(), logFile: join(dir, 'temporal.log') });
  cleanups.push(() => temporal.stop());

  const sandbox = await startSandbox({
    appId: SANDBOX_APP_ID,
    appSecret: TEST_SECRETS.META_APP_SECRET,
    graphApiVersion: 'v25.0',
    statusDelayMs: 50,
  });
  cleanups.push(() => sandbox.close());
  const state = sandbox.state;

  const port = await freePort();
  const apiUrl = `http://127.0.0.1:${port}`;
  const env: NodeJS.ProcessEnv = {
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.RECORD_LOG_LEVEL ?? 'warn',
    PORT: String(port),
    PUBLIC_URL: apiUrl,
    FRONTEND_URL: 'http://dashboard.test',
    DATABASE_URL: databaseUrl,
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_TASK_QUEUE: 'histories',
    META_SANDBOX: 'true',
    META_GRAPH_API_URL: sandbox.url,
    META_OAUTH_DIALOG_URL: sandbox.url,
    ...TEST_SECRETS,
    // Payloads in the histories are encrypted with the fixture key, which the replay test knows.
    CREDENTIALS_ENCRYPTION_KEY: FIXTURE_KEY,
    REPLY_WEBHOOK_URL: brainUrl,
    REPLY_WEBHOOK_SECRET: BRAIN_SECRET,
    REPLY_WEBHOOK_TIMEOUT_MS: '14000',
    CALLBACK_WAIT_MS: '500',
    // A send whose outcome is unknown waits this long for Meta's status before it is sent again.
    SEND_UNKNOWN_OUTCOME_GRACE_MS: '2000',
    // The typing indicator is shown again after this while the brain still thinks.
    TYPING_REFRESH_MS: '1500',
    // Small retention batches, so a sweep of a few old rows takes several.
    RETENTION_BATCH_SIZE: '2',
  };
  const config = loadConfig(env, 'dev');
  const log = createLogger({ level: config.logLevel });
  const db = createDb(config.databaseUrl, { poolMax: 5, log });
  cleanups.push(() => db.destroy());
  const connection = await Connection.connect({ address: temporal.address });
  cleanups.push(() => connection.close());
  const client = new Client({
    connection,
    namespace: config.temporal.namespace,
    dataConverter: dataConverter(codecKeyring(parseKeyring(FIXTURE_KEY))),
  });
  // The worker runs the prebuilt bundle of `npm run build`: today's workflow code.
  const worker = await startWorker(config, log, { db, reconcile: false });
  cleanups.push(() => worker.shutdown());
  const api = await startApi(config, log, { db, host: '127.0.0.1' });
  cleanups.push(() => api.close());
  sandbox.setWebhookUrl(`${api.url}/api/webhooks/whatsapp`);

  const jwt = TEST_SECRETS.AUTH_JWT_SECRET;
  const recorded = new Map<Branch, string>();

  /** Waits for the workflow to close and returns its history as the CLI prints it. */
  async function closedHistory(
    workflowId: string,
    runId?: string,
  ): Promise<{ history: History; raw: Buffer; result: unknown }> {
    const handle = client.workflow.getHandle(workflowId, runId);
    // Webhooks reach the API a moment after the sandbox sends them: wait for the workflow to start.
    await until(`workflow ${workflowId} to start`, () => handle.describe());
    let result: unknown;
    try {
      result = await handle.result();
    } catch (error) {
      if (!(error instanceof WorkflowFailedError)) throw error;
      result = error;
    }
    const { runId: closedRunId } = await handle.describe();
    const raw = execFileSync(cli.kind === 'path' ? cli.path : 'temporal', [
      'workflow',
      'show',
      '--output',
      'json',
      '--address',
      temporal.address,
      '--namespace',
      config.temporal.namespace,
      '--workflow-id',
      workflowId,
      '--run-id',
      closedRunId,
    ]);
    return { history: new History(workflowId, JSON.parse(raw.toString()) as HistoryJson), raw, result };
  }

  async function record(
    branch: Branch,
    workflowId: string,
    check: (h: History, result: unknown) => void,
    runId?: string,
  ): Promise<History> {
    const { history, raw, result } = await closedHistory(workflowId, runId);
    const named = new History(branch, history.json);
    check(named, result);
    mkdirSync(HISTORIES_DIR, { recursive: true });
    writeFileSync(join(HISTORIES_DIR, `${branch}.json`), raw);
    recorded.set(branch, named.summary());
    say(`${branch}: ${named.summary()}`);
    return named;
  }

  async function connectWorkflowOf(businessId: string): Promise<string> {
    const row = await until('the connect attempt', () =>
      db('connect_attempts').where({ business_id: businessId }).orderBy('started_at', 'desc').first(),
    );
    return row.workflow_id as string;
  }

  async function connect(businessId: string, account?: string) {
    await connectThroughMeta(apiUrl, businessId, { decision: 'approve', ...(account ? { account } : {}) }, jwt);
    const workflowId = await connectWorkflowOf(businessId);
    await client.workflow
      .getHandle(workflowId)
      .result()
      .catch(() => undefined);
    return workflowId;
  }

  async function connected(businessId: string, account?: string) {
    const workflowId = await connect(businessId, account);
    const status = await getStatus(apiUrl, businessId, jwt);
    assert.equal(status.connected, true, `${businessId} connected`);
    return {
      workflowId,
      integrationId: status.integration.id as string,
      wabaId: status.accounts[0].wabaId as string,
      phoneNumberId: status.accounts[0].phoneNumbers[0].phoneNumberId as string,
    };
  }

  const headers = async (businessId: string) => ({
    ...(await authHeaders(businessId, jwt)),
    'content-type': 'application/json',
  });
  async function useRules(businessId: string) {
    const res = await fetch(`${apiUrl}/api/integrations/whatsapp/settings`, {
      method: 'PUT',
      headers: await headers(businessId),
      body: JSON.stringify({ responder: 'rules', autoReplyText: 'Thanks, we will answer soon.' }),
    });
    assert.equal(res.status, 200, 'settings');
  }
  async function disconnect(businessId: string) {
    const res = await fetch(`${apiUrl}/api/integrations/whatsapp/disconnect`, {
      method: 'DELETE',
      headers: await headers(businessId),
    });
    assert.equal(res.status, 200, 'disconnect');
  }
  let customers = 0;
  // Customers in the sandbox's fictional +1 555-01xx range.
  const customer = () => `155501990${String(++customers).padStart(2, '0')}`;
  const messageSent = (wamid: string) =>
    state.calls({ operation: 'messages.send' }).some((c) => c.messageContextId === wamid && c.effect === 'applied');
  /** The HandleInboundMessage of a message: its id is our row id, known once intake stored it. */
  const workflowOf = async (wamid: string) => {
    const row = await until<{ id: number }>(
      `message ${wamid} stored`,
      async () => (await db('messages').where({ wamid, direction: 'inbound' }).first('id')) ?? null,
    );
    return messageWorkflowId(row.id);
  };
  const failure = (result: unknown) =>
    result instanceof WorkflowFailedError ? String(result.cause?.message ?? result.message) : undefined;

  // connect-happy-path, message-replied, disconnect: one business, end to end.
  {
    const businessId = 'histories-main';
    const c = await connected(businessId);
    await record('connect-happy-path', c.workflowId, (h, result) => {
      for (const step of ['exchangeCode', 'upgradeToken', 'discoverAccounts', 'subscribeApp', 'ensureTokenSchedule'])
        expectBranch(
          h,
          h.activity(step).some((a) => a.outcome === 'Completed' && a.attempt === 1),
          `${step} completed at the first attempt`,
        );
      expectBranch(h, h.activity('unsubscribeUnused').length === 0, 'no compensation');
      expectBranch(
        h,
        h.closedAs === 'WorkflowExecutionCompleted' &&
          (result as { integrationId?: string }).integrationId === c.integrationId,
        'completed with the integration',
      );
    });

    await useRules(businessId);
    const { messageId } = state.sendCustomerMessage({
      phoneNumberId: c.phoneNumberId,
      from: customer(),
      type: 'text',
      text: 'hello',
    });
    await record('inbound-replied', await workflowOf(messageId), (h, result) => {
      expectBranch(h, (result as { outcome?: string }).outcome === 'replied', 'outcome replied');
      expectBranch(
        h,
        h.localActivity('respondByRules').length === 1 &&
          h.localActivity('sendTurnReply').some((l) => !l.failed && l.attempt === 1),
        'rules reply sent at the first quick attempt',
      );
      expectBranch(h, h.activities().length === 0 && !h.has('TimerStarted'), 'no regular activity, no wait');
    });
    assert.ok(messageSent(messageId), 'the reply reached the sandbox');
    // Meta's sent/delivered/read statuses of that reply are applied at intake: no workflow.
    await until(
      'the reply read',
      async () => (await db('messages').where({ direction: 'outbound', status: 'read' }).first('id')) !== undefined,
    );

    await disconnect(businessId);
    await record('disconnect', disconnectWorkflowId(c.integrationId), (h) => {
      for (const step of ['deleteTokenSchedule', 'cancelIntegrationWork', 'unsubscribeIntegration'])
        expectBranch(
          h,
          h.activity(step).some((a) => a.outcome === 'Completed'),
          `${step} completed`,
        );
      expectBranch(h, h.localActivity('destroyCredentials').length === 1, 'credentials destroyed');
      expectBranch(h, h.closedAs === 'WorkflowExecutionCompleted', 'completed');
    });
  }

  // connect-transient-retried: Meta answers the code exchange with a 503 once; the retry succeeds.
  {
    const businessId = 'histories-transient';
    state.addFault({ operation: 'oauth.code_exchange', status: 503, times: 1 });
    const c = await connected(businessId);
    await record('connect-transient-retried', c.workflowId, (h) => {
      const exchange = h.activity('exchangeCode');
      expectBranch(
        h,
        exchange.length === 1 && exchange[0]!.attempt === 2 && exchange[0]!.outcome === 'Completed',
        'exchangeCode completed at its second attempt',
      );
      expectBranch(
        h,
        /503|Transient|unavailable/i.test(exchange[0]!.lastFailure ?? ''),
        'the first attempt failed with the 5xx',
      );
      expectBranch(h, h.closedAs === 'WorkflowExecutionCompleted', 'completed');
    });
  }

  // connect-compensated: Meta holds the subscribe call; meanwhile another business's integration
  // takes the same number, so saving fails (number_in_use) after our app was subscribed: the
  // workflow unsubscribes (unsubscribeUnused) and fails.
  {
    const businessId = 'histories-compensated';
    const account = state.createAccount({ registered: false });
    state.addFault({ operation: 'waba.subscribe', hangMs: 2_000, objectId: account.wabaId });
    await connectThroughMeta(apiUrl, businessId, { decision: 'approve', account: account.wabaId }, jwt);
    const workflowId = await connectWorkflowOf(businessId);
    await until('the subscribe step', async () => {
      const status = await getStatus(apiUrl, businessId, jwt);
      return status.connect?.step === 'subscribing_webhooks';
    });
    const [other] = await db('channel_integrations')
      .insert({
        business_id: 'histories-other',
        channel: 'whatsapp',
        channel_name: 'WhatsApp',
        is_active: true,
        state: 'active',
      })
      .returning('id');
    const [otherAccount] = await db('whatsapp_business_accounts')
      .insert({ integration_id: other!.id, waba_id: '900000000000001' })
      .returning('id');
    await db('whatsapp_phone_numbers').insert({
      integration_id: other!.id,
      account_id: otherAccount!.id,
      waba_id: '900000000000001',
      phone_number_id: account.phoneNumberIds[0]!,
      is_active: true,
    });
    await record('connect-compensated', workflowId, (h, result) => {
      expectBranch(
        h,
        h.activity('subscribeApp').some((a) => a.outcome === 'Completed'),
        'subscribed first',
      );
      expectBranch(
        h,
        h.localActivity('persistIntegration').some((a) => a.failed),
        'persistIntegration failed',
      );
      const undo = h.activity('unsubscribeUnused');
      expectBranch(
        h,
        undo.length === 1 && undo[0]!.outcome === 'Completed',
        'unsubscribeUnused ran (the compensation)',
      );
      expectBranch(h, h.closedAs === 'WorkflowExecutionFailed' && failure(result) !== undefined, 'the workflow failed');
    });
    assert.equal(state.subscriptions(account.wabaId).subscribed, false, 'the subscription was undone at the sandbox');
  }

  // register-number-registered and register-number-refused: numbers not on the Cloud API yet are
  // saved needing a PIN; the business supplies one and asks for registration. Meta takes the first
  // number's PIN; the second number already has another two-step PIN, so Meta refuses it (133005)
  // and the workflow records the refusal instead of failing.
  {
    const businessId = 'histories-registration';
    const account = state.createAccount({ registered: false });
    await connected(businessId, account.wabaId);
    const [first, second] = account.phoneNumberIds as [string, string];
    state.setNumberFacts(second, { twoStepPin: '111111' });
    const numberRow = async (phoneNumberId: string) =>
      (await db('whatsapp_phone_numbers').where({ phone_number_id: phoneNumberId, is_active: true }).first('id'))!
        .id as string;
    for (const [branch, phoneNumberId, expected] of [
      ['register-number-registered', first, 'registered'],
      ['register-number-refused', second, 'failed'],
    ] as const) {
      const call = async (method: string, path: string, body?: unknown) => {
        const res = await fetch(`${apiUrl}/api/integrations/whatsapp/numbers/${phoneNumberId}/${path}`, {
          method,
          headers: await headers(businessId),
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
        assert.ok(res.ok, `${method} ${path}: ${res.status} ${await res.text()}`);
      };
      await call('PUT', 'pin', { pin: '424242' });
      await call('POST', 'registration');
      await record(branch, registrationWorkflowId(await numberRow(phoneNumberId)), (h, result) => {
        const register = h.activity('registerPhoneNumber');
        expectBranch(h, register.length === 1 && register[0]!.outcome === 'Completed', 'registerPhoneNumber ran once');
        expectBranch(
          h,
          h.closedAs === 'WorkflowExecutionCompleted' && (result as { state?: string }).state === expected,
          `the workflow completed with ${expected}`,
        );
      });
    }
  }

  // business-app-sync: a WhatsApp Business app number (coexistence) is connected; its save starts
  // the sync workflow, which asks Meta for the contacts, then the history.
  {
    const businessId = 'histories-business-app';
    const account = state.createAccount({ numbers: 1, coexistence: true });
    await connected(businessId, account.wabaId);
    const row: { id: string } = await until('the coexistence number', () =>
      db('whatsapp_phone_numbers').where({ phone_number_id: account.phoneNumberIds[0]!, is_active: true }).first('id'),
    );
    await record('business-app-sync', businessAppSyncWorkflowId(row.id), (h, result) => {
      const requests = h.activity('requestBusinessAppSync');
      expectBranch(h, requests.length === 2 && requests.every((a) => a.outcome === 'Completed'), 'both syncs asked');
      const syncs = (result as { syncs?: Array<{ state: string }> }).syncs ?? [];
      expectBranch(h, syncs.length === 2 && syncs.every((s) => s.state === 'requested'), 'both requested');
    });
  }

  // template-sync: every connect's save starts its accounts' template sync, which pages through
  // Meta's message_templates into the catalogue.
  {
    const businessId = 'histories-templates';
    const account = state.createAccount({ numbers: 1 });
    await connected(businessId, account.wabaId);
    const row: { id: string } = await until('the account', () =>
      db('whatsapp_business_accounts').where({ waba_id: account.wabaId, is_active: true }).first('id'),
    );
    await record('template-sync', templateSyncStart('').workflowId(String(row.id)), (h) => {
      const sync = h.activity('syncTemplateCatalogue');
      expectBranch(h, sync.length >= 1 && sync.every((a) => a.outcome === 'Completed'), 'the catalogue was synced');
      expectBranch(h, h.closedAs === 'WorkflowExecutionCompleted', 'completed');
    });

    // send-message-sent and send-message-refused: the business sends the seeded hello_world
    // template through the API, and then free-form text to a customer who never wrote (outside
    // the window), which ends without calling Meta.
    const phoneNumberId = account.phoneNumberIds[0]!;
    await until('the approved template', async () => {
      const t = await db('message_templates').where({ waba_id: account.wabaId, name: 'hello_world' }).first();
      return t?.status === 'APPROVED' && t.components !== null;
    });
    const sends: Array<[Branch, Record<string, unknown>, string]> = [
      [
        'send-message-sent',
        {
          to: '4917000000042',
          phoneNumberId,
          template: {
            name: 'hello_world',
            language: 'en_US',
            components: [{ type: 'body', parameters: [{ type: 'text', text: 'Ann' }] }],
          },
        },
        'sent',
      ],
      ['send-message-refused', { to: '4917000000043', phoneNumberId, text: 'hello' }, 'failed'],
    ];
    for (const [branch, body, outcome] of sends) {
      const res = await fetch(`${apiUrl}/api/integrations/whatsapp/messages`, {
        method: 'POST',
        headers: { ...(await headers(businessId)), 'idempotency-key': `histories-${branch}` },
        body: JSON.stringify(body),
      });
      assert.equal(res.status, 202, `${branch}: ${res.status} ${await res.clone().text()}`);
      const start: { workflow_id: string } = await until(`${branch} start`, () =>
        db('workflow_starts').where({ workflow_type: 'sendMessage' }).orderBy('id', 'desc').first('workflow_id'),
      );
      await record(branch, start.workflow_id, (h, result) => {
        expectBranch(h, h.localActivity('sendOutbound').length >= 1, 'sendOutbound ran');
        expectBranch(
          h,
          h.closedAs === 'WorkflowExecutionCompleted' && (result as { outcome?: string }).outcome === outcome,
          `the send ended ${outcome}`,
        );
      });
    }
  }

  // The HTTP responder (the brain) is the default responder of the businesses below.
  const brainBusiness = await connected('histories-brain');

  // inbound-waited-for-turn: the brain takes 3 s for the first message; the second arrives while
  // the first's turn is open, waits (a signal ends the wait), then takes its own turn.
  {
    const from = customer();
    const first = state.sendCustomerMessage({
      phoneNumberId: brainBusiness.phoneNumberId,
      from,
      type: 'text',
      text: 'first question',
    }).messageId;
    await until('the brain to get the first message', () => brainSeen.has(first));
    const second = state.sendCustomerMessage({
      phoneNumberId: brainBusiness.phoneNumberId,
      from,
      type: 'text',
      text: 'second question',
    }).messageId;
    await record('inbound-waited-for-turn', await workflowOf(second), (h, result) => {
      expectBranch(h, (result as { outcome?: string }).outcome === 'replied', 'outcome replied');
      expectBranch(h, h.localActivity('claimTurn').length >= 2, 'claimed the turn after waiting');
      expectBranch(h, h.has('TimerStarted'), 'waited on a timer (or the signal)');
      expectBranch(
        h,
        h.activity('respondByHttp').some((a) => a.outcome === 'Completed'),
        'the brain answered',
      );
    });
    await client.workflow.getHandle(await workflowOf(first)).result();
    const order = state
      .calls({ operation: 'messages.send' })
      .filter((c) => c.effect === 'applied' && (c.messageContextId === first || c.messageContextId === second));
    assert.deepEqual(
      order.map((c) => c.messageContextId),
      [first, second],
      'replies left in commit order',
    );
  }

  // inbound-covered: three messages in one POST form one turn, owned by the first; the one answer
  // goes in reply to the third, and the second's workflow waits and ends covered.
  {
    const from = customer();
    const sent = state.sendCustomerMessages(
      ['part one', 'part two', 'part three'].map((text) => ({
        phoneNumberId: brainBusiness.phoneNumberId,
        from,
        type: 'text',
        text,
      })),
    );
    const [one, two, three] = sent.map((m) => m.messageId);
    await record('inbound-covered', await workflowOf(two!), (h, result) => {
      expectBranch(h, (result as { outcome?: string }).outcome === 'covered', 'ended covered by the turn');
      expectBranch(h, h.activities().length === 0, 'no responder call of its own');
    });
    await client.workflow.getHandle(await workflowOf(one!)).result();
    const sends = state
      .calls({ operation: 'messages.send' })
      .filter((c) => c.effect === 'applied' && [one, two, three].includes(c.messageContextId));
    assert.deepEqual(
      sends.map((c) => c.messageContextId),
      [three],
      'one reply, to the newest',
    );
  }

  // inbound-send-durable-after-quick-failures: Meta refuses the three quick sends (rate limit, so
  // known not sent); the regular sendTurnReply activity then gets it out.
  {
    state.addFault({
      operation: 'messages.send',
      status: 429,
      error: { code: 130429, message: 'Rate limit hit' },
      times: 3,
      objectId: brainBusiness.phoneNumberId,
    });
    const { messageId } = state.sendCustomerMessage({
      phoneNumberId: brainBusiness.phoneNumberId,
      from: customer(),
      type: 'text',
      text: 'are you there',
    });
    await record('inbound-send-durable-after-quick-failures', await workflowOf(messageId), (h, result) => {
      expectBranch(h, (result as { outcome?: string }).outcome === 'replied', 'outcome replied');
      const quick = h.localActivity('sendTurnReply');
      expectBranch(
        h,
        quick.length === 1 && quick[0]!.failed && quick[0]!.attempt === 3,
        'the quick local sends failed (3 attempts)',
      );
      const durable = h.activity('sendTurnReply');
      expectBranch(
        h,
        durable.length === 1 && durable[0]!.outcome === 'Completed',
        'a regular sendTurnReply activity completed',
      );
    });
    assert.equal(
      state
        .calls({ operation: 'messages.send', objectId: brainBusiness.phoneNumberId })
        .filter((c) => c.effect === 'applied' && c.textBody === 'brain: are you there').length,
      1,
      'sent once',
    );
  }

  // inbound-send-waited-on-unknown-outcome: Meta answers 500 once, so the send may have gone out;
  // the next attempt waits on timers for a status carrying our row id, then sends again.
  {
    state.addFault({ operation: 'messages.send', status: 500, times: 1, objectId: brainBusiness.phoneNumberId });
    const { messageId } = state.sendCustomerMessage({
      phoneNumberId: brainBusiness.phoneNumberId,
      from: customer(),
      type: 'text',
      text: 'hello again',
    });
    await record('inbound-send-waited-on-unknown-outcome', await workflowOf(messageId), (h, result) => {
      expectBranch(h, (result as { outcome?: string }).outcome === 'replied', 'outcome replied');
      const quick = h.localActivity('sendTurnReply');
      expectBranch(h, quick.length >= 2 && !quick.at(-1)!.failed, 'waited, then sent');
      expectBranch(h, h.has('TimerStarted'), 'waited on a timer');
    });
    assert.ok(messageSent(messageId), 'the reply reached the sandbox');
  }

  // inbound-responder-fallback-to-rules: the brain answers garbage; the rules auto-reply goes out.
  {
    const { messageId } = state.sendCustomerMessage({
      phoneNumberId: brainBusiness.phoneNumberId,
      from: customer(),
      type: 'text',
      text: 'garbage please',
    });
    await record('inbound-responder-fallback-to-rules', await workflowOf(messageId), (h, result) => {
      expectBranch(h, (result as { outcome?: string }).outcome === 'replied', 'outcome replied');
      expectBranch(
        h,
        h.activity('respondByHttp').some((a) => a.outcome === 'Failed'),
        'respondByHttp failed',
      );
      expectBranch(h, h.localActivity('respondByRules').length === 1, 'respondByRules answered instead');
    });
    assert.ok(messageSent(messageId), 'the auto-reply reached the sandbox');
  }

  // refresh-renewed-token: the token expires in 2 days (under TOKEN_EXPIRY_THRESHOLD_DAYS), the
  // schedule's check exchanges it for a long-lived one.
  async function refreshRun(integrationId: string, branch: Branch, check: (h: History, result: unknown) => void) {
    const startedAfter = new Date();
    await client.schedule.getHandle(tokenScheduleId(integrationId)).trigger();
    const run = await until('the triggered refreshToken', async () => {
      for await (const w of client.workflow.list({ query: `WorkflowType = 'refreshToken'` }))
        if (w.workflowId.startsWith(refreshWorkflowId(integrationId)) && w.startTime >= startedAfter) return w;
      return undefined;
    });
    await record(branch, run.workflowId, check, run.runId);
  }
  {
    const c = await connected('histories-refresh');
    state.setTokenExpiry(c.wabaId, 2 * 86_400);
    await refreshRun(c.integrationId, 'refresh-renewed-token', (h, result) => {
      expectBranch(h, (result as { outcome?: string }).outcome === 'refreshed', 'outcome refreshed');
      expectBranch(
        h,
        h.activity('refreshLongLivedToken').some((a) => a.outcome === 'Completed'),
        'refreshLongLivedToken completed',
      );
    });
    const row = await db('channel_integrations').where({ id: c.integrationId }).first();
    assert.ok(
      (row?.token_expires_at?.getTime() ?? 0) - Date.now() > 50 * 86_400_000,
      'the new token lasts about 60 days',
    );
  }

  // refresh-token-ok: a fresh 60-day token is only checked (and its subscription confirmed).
  {
    const c = await connected('histories-token-ok');
    await refreshRun(c.integrationId, 'refresh-token-ok', (h, result) => {
      expectBranch(h, (result as { outcome?: string }).outcome === 'ok', 'outcome ok');
      expectBranch(
        h,
        h.activity('verifySubscriptions').some((a) => a.outcome === 'Completed') &&
          h.activity('refreshLongLivedToken').length === 0,
        'checked, not refreshed',
      );
    });
  }

  // refresh-flagged-reauth: Meta says the token is invalid (the user changed the password).
  {
    const c = await connected('histories-reauth');
    state.invalidateTokens(c.wabaId, 460);
    await refreshRun(c.integrationId, 'refresh-flagged-reauth', (h, result) => {
      expectBranch(h, (result as { outcome?: string }).outcome === 'needs_reauth', 'outcome needs_reauth');
      expectBranch(
        h,
        h.localActivity('recordTokenCheck').length === 1 && h.activity('refreshLongLivedToken').length === 0,
        'recorded, nothing refreshed',
      );
    });
    const status = await getStatus(apiUrl, 'histories-reauth', jwt);
    assert.equal(status.integration.state, 'needs_reauth', 'the dashboard asks for a reconnect');
  }

  // account-event: Meta reports a quality change of a number (phone_number_quality_update).
  {
    const c = await connected('histories-account');
    const before = new Set<string>();
    for await (const w of client.workflow.list({ query: `WorkflowType = 'recordAccountEvent'` }))
      before.add(w.workflowId);
    const webhook = state.setNumberQuality(c.phoneNumberId, { qualityRating: 'YELLOW', emit: true });
    assert.ok(webhook, 'the sandbox posted the webhook');
    const run = await until('the recordAccountEvent', async () => {
      for await (const w of client.workflow.list({ query: `WorkflowType = 'recordAccountEvent'` }))
        if (!before.has(w.workflowId)) return w;
      return undefined;
    });
    await record(
      'account-event',
      run.workflowId,
      (h, result) => {
        expectBranch(h, h.localActivity('recordAccountEvent').length === 1, 'recordAccountEvent ran');
        expectBranch(
          h,
          (result as { kind?: string }).kind === 'number' &&
            h.activity('refreshNumberDetails').some((a) => a.outcome === 'Completed'),
          'number details refreshed',
        );
      },
      run.runId,
    );
  }

  // inbound-cancelled-by-disconnect: the brain takes 12 s; the business disconnects meanwhile.
  {
    const { messageId } = state.sendCustomerMessage({
      phoneNumberId: brainBusiness.phoneNumberId,
      from: customer(),
      type: 'text',
      text: 'slow question',
    });
    await until('the brain to get the slow message', () => brainSeen.has(messageId));
    const workflowId = await workflowOf(messageId);
    // The disconnect finds running work by its search attributes: let visibility catch up.
    await until('the message workflow to be visible', async () => {
      for await (const w of client.workflow.list({
        query: `WorkflowId = '${workflowId}' AND WaIntegrationId = '${brainBusiness.integrationId}'`,
      }))
        return w;
      return undefined;
    });
    await disconnect('histories-brain');
    await record('inbound-cancelled-by-disconnect', workflowId, (h, result) => {
      expectBranch(h, h.has('WorkflowExecutionCancelRequested'), 'cancel requested');
      expectBranch(
        h,
        h.localActivity('closeInboundMessage').length === 1 && h.localActivity('sendTurnReply').length === 0,
        'closed unanswered, nothing sent',
      );
      expectBranch(
        h,
        (result as { outcome?: string; reason?: string }).reason === 'integration_disconnected',
        'outcome unanswered (integration_disconnected)',
      );
    });
    assert.ok(!messageSent(messageId), 'nothing reached the customer');
  }

  // inbound-typing-repeated, inbound-media-stored, inbound-closed-agent: the brain thinks longer
  // than TYPING_REFRESH_MS (the indicator is shown twice); a customer's image is stored before the
  // brain is asked; a message in a conversation an agent took over closes agent, unanswered.
  {
    const c = await connected('histories-people');
    const from = customer();
    const slow = state.sendCustomerMessage({
      phoneNumberId: c.phoneNumberId,
      from,
      type: 'text',
      text: 'first, slowly',
    });
    await record('inbound-typing-repeated', await workflowOf(slow.messageId), (h, result) => {
      expectBranch(h, (result as { outcome?: string }).outcome === 'replied', 'outcome replied');
      expectBranch(h, h.localActivity('showTyping').length === 2, 'typing shown twice');
    });
    const image = state.sendCustomerMessage({ phoneNumberId: c.phoneNumberId, from, type: 'image' });
    await record('inbound-media-stored', await workflowOf(image.messageId), (h, result) => {
      expectBranch(h, (result as { outcome?: string }).outcome === 'replied', 'outcome replied');
      expectBranch(
        h,
        h.activity('fetchTurnMedia').some((a) => a.outcome === 'Completed'),
        'media fetched',
      );
    });
    const conversation = (await db('messages').where({ wamid: image.messageId }).first())!.conversation_id;
    const agent = await tokenFor('histories-people', { secret: jwt, claims: { role: 'agent', sub: 'agent-1' } });
    const taken = await fetch(`${apiUrl}/api/integrations/whatsapp/conversations/${conversation}/handoff`, {
      method: 'POST',
      headers: { authorization: `Bearer ${agent}`, 'content-type': 'application/json' },
      body: JSON.stringify({ note: 'a person answers' }),
    });
    assert.equal(taken.status, 200, `handoff: ${taken.status} ${await taken.clone().text()}`);
    const during = state.sendCustomerMessage({ phoneNumberId: c.phoneNumberId, from, type: 'text', text: 'hello?' });
    await record('inbound-closed-agent', await workflowOf(during.messageId), (h, result) => {
      expectBranch(h, (result as { outcome?: string }).outcome === 'agent', 'outcome agent');
      expectBranch(h, h.activities().length === 0, 'the brain was not asked');
    });
  }

  // inbound-brain-v2-several-messages and inbound-brain-v2-handoff: a business on version 2 of the
  // brain's contract; one turn answered by two messages in order, one handed to a person.
  {
    const v2 = await connected('histories-brain-v2');
    const put = await fetch(`${apiUrl}/api/integrations/whatsapp/settings`, {
      method: 'PUT',
      headers: await headers('histories-brain-v2'),
      body: JSON.stringify({ responder: 'http', brainVersion: 2 }),
    });
    assert.equal(put.status, 200, `settings: ${put.status}`);
    const several = state.sendCustomerMessage({
      phoneNumberId: v2.phoneNumberId,
      from: customer(),
      type: 'text',
      text: 'tell me two things',
    }).messageId;
    await record('inbound-brain-v2-several-messages', await workflowOf(several), (h, result) => {
      expectBranch(h, (result as { outcome?: string }).outcome === 'replied', 'outcome replied');
      expectBranch(h, h.localActivity('sendTurnReply').length === 2, 'two sends, one per message');
    });
    const handedOver = state.sendCustomerMessage({
      phoneNumberId: v2.phoneNumberId,
      from: customer(),
      type: 'text',
      text: 'hand over to a person',
    }).messageId;
    await record('inbound-brain-v2-handoff', await workflowOf(handedOver), (h, result) => {
      expectBranch(h, (result as { outcome?: string }).outcome === 'agent', 'outcome agent');
      expectBranch(h, h.localActivity('sendTurnReply').length === 0, 'nothing sent');
    });
  }

  // erasure-customer and erasure-business: a customer who wrote in is erased by phone, then the
  // whole business (which first stops it at Meta and in Temporal).
  {
    const c = await connected('histories-erasure');
    const from = customer();
    const { messageId } = state.sendCustomerMessage({ phoneNumberId: c.phoneNumberId, from, type: 'text', text: 'hi' });
    await client.workflow.getHandle(await workflowOf(messageId)).result();
    const erase = async (body: unknown) => {
      const res = await fetch(`${apiUrl}/api/integrations/whatsapp/erasures`, {
        method: 'POST',
        headers: await headers('histories-erasure'),
        body: JSON.stringify(body),
      });
      assert.equal(res.status, 202, `erasure: ${res.status} ${await res.clone().text()}`);
      return erasureWorkflowId(((await res.json()) as { id: string }).id);
    };
    await record('erasure-customer', await erase({ phone: from }), (h) => {
      expectBranch(h, h.closedAs === 'WorkflowExecutionCompleted', 'completed');
      expectBranch(h, h.activities().length + h.localActivities().length >= 1, 'activities ran');
    });
    await record('erasure-business', await erase({ scope: 'business' }), (h) => {
      expectBranch(h, h.closedAs === 'WorkflowExecutionCompleted', 'completed');
    });
  }

  // retention-sweep and retention-sweep-continued: old rows of a few kinds, swept two at a time;
  // a run allowed two batches continues as new.
  {
    const old = db.raw(`now() - interval '400 days'`);
    const seed = async (label: string) => {
      await db('oauth_states').insert(
        [1, 2, 3].map((i) => ({ state_hash: `${label}-${i}`, business_id: 'histories-retention', expires_at: old })),
      );
      await db('signup_events').insert(
        [1, 2, 3].map(() => ({ business_id: 'histories-retention', event: 'CANCEL', created_at: old })),
      );
    };
    const sweep = async (branch: Branch, input: Record<string, unknown>, check: (h: History) => void) => {
      await seed(branch);
      const workflowId = `histories-${branch}`;
      const started = await client.workflow.start(workflowTypes.retentionSweep, {
        taskQueue: taskQueueFor(config.temporal.taskQueue, workflowTypes.retentionSweep),
        workflowId,
        args: [input],
      });
      // The first run: the one a continued sweep continues from.
      await record(branch, workflowId, check, started.firstExecutionRunId);
    };
    await sweep('retention-sweep', {}, (h) => {
      expectBranch(h, h.closedAs === 'WorkflowExecutionCompleted', 'completed');
      expectBranch(h, h.localActivities().length + h.activities().length > 3, 'several batches');
    });
    await sweep('retention-sweep-continued', { maxBatchesPerRun: 2 }, (h) => {
      expectBranch(h, h.closedAs === 'WorkflowExecutionContinuedAsNew', 'continued as new');
    });
  }

  const missing = RECORDED_BRANCHES.filter((b) => !recorded.has(b));
  assert.deepEqual(missing, [], 'every branch recorded');
  say(`recorded ${recorded.size} histories into ${HISTORIES_DIR}`);
} catch (error) {
  failed = true;
  console.error(error);
} finally {
  await cleanup();
  brain.closeAllConnections();
  await new Promise((resolve) => brain.close(resolve));
}
process.exit(failed ? 1 : 0);
