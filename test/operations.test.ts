// What an operator relies on: structured logs that never carry a secret, Prometheus metrics, and
// a clean shutdown on SIGTERM.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readIntegrationToken } from '../src/store/integrations.js';
import { connectThroughMeta, getStatus } from './helpers/meta-flow.js';
import { tokenFor } from './helpers/jwt.js';
import { newBusinessId } from './helpers/factories.js';
import { freePort } from './helpers/ports.js';
import { spawnService } from './helpers/processes.js';
import { startStack, TEST_SECRETS, type Stack } from './helpers/stack.js';
import { postWebhook } from './helpers/webhooks.js';

describe('logs', () => {
  const lines: string[] = [];
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ api: true, sandbox: true, logLines: lines });
  });
  afterAll(() => stack?.close());

  it('are JSON with request and workflow ids, and hold no secret after a connect and a message', async () => {
    const businessId = newBusinessId();
    const { callbackUrl } = await connectThroughMeta(stack.api!.url, businessId);
    const status = await getStatus(stack.api!.url, businessId);
    const phoneNumberId = status.accounts[0].phoneNumbers[0].phoneNumberId as string;
    const { messageId } = stack.sandbox!.state.sendCustomerMessage({
      phoneNumberId,
      from: '4470000001',
      type: 'text',
      text: 'log me',
    });
    await expect
      .poll(async () => (await stack.db('messages').where({ wamid: messageId }).first())?.status, { timeout: 20_000 })
      .toBe('replied');
    // A token Meta refuses, a bad signature and an unknown route add error paths to the log.
    stack.sandbox!.state.addFault({
      operation: 'messages.send',
      status: 401,
      error: { code: 190, message: 'Error validating access token' },
      objectId: phoneNumberId,
    });
    stack.sandbox!.state.sendCustomerMessage({ phoneNumberId, from: '4470000002', type: 'text', text: 'again' });
    await expect
      .poll(async () => (await getStatus(stack.api!.url, businessId)).integration.state, { timeout: 20_000 })
      .toBe('needs_reauth');
    await postWebhook(stack.api!.url, '{"object":"x"}', { signature: 'sha256=00' });

    const token = (await readIntegrationToken(stack.db, stack.config.keyring, status.integration.id))!;
    const callback = new URL(callbackUrl);
    const jwt = await tokenFor(businessId);
    const secrets = {
      token,
      code: callback.searchParams.get('code')!,
      state: callback.searchParams.get('state')!,
      appSecret: TEST_SECRETS.META_APP_SECRET,
      jwtSecret: TEST_SECRETS.AUTH_JWT_SECRET,
      verifyToken: TEST_SECRETS.WHATSAPP_VERIFY_TOKEN,
      credentialsKey: TEST_SECRETS.CREDENTIALS_ENCRYPTION_KEY.split(':')[1]!,
      jwtSignature: jwt.split('.')[2]!,
    };
    const all = lines.join('');
    expect(lines.length).toBeGreaterThan(20);
    for (const [name, value] of Object.entries(secrets)) expect(all.includes(value), `${name} in logs`).toBe(false);

    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(
      records.some((r) => typeof r.requestId === 'string' && r.route === '/api/integrations/whatsapp/callback'),
    ).toBe(true);
    const persisted = records.find((r) => r.msg === 'integration persisted');
    expect(persisted).toMatchObject({
      businessId,
      integrationId: status.integration.id,
      workflowId: expect.stringMatching(/^connect\//),
    });
    // Workflow ids carry our message row id, never the wamid.
    const stored = (await stack.db('messages').where({ wamid: messageId, direction: 'inbound' }).first('id'))!;
    // The worker's log line may reach the collected output a moment after the row says replied.
    await expect
      .poll(
        () =>
          lines
            .map((l) => JSON.parse(l) as Record<string, unknown>)
            .some((r) => r.msg === 'reply step done' && String(r.workflowId) === `message/${stored.id}`),
        { timeout: 15_000 },
      )
      .toBe(true);
  });
});

describe('metrics', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ api: true, sandbox: true, env: { METRICS_PORT: '0' } });
  });
  afterAll(() => stack?.close());

  it('exposes HTTP, webhook, workflow start and integration metrics in Prometheus format', async () => {
    const businessId = newBusinessId();
    await connectThroughMeta(stack.api!.url, businessId);
    await postWebhook(stack.api!.url, '{}', { signature: 'sha256=00' });
    await postWebhook(stack.api!.url, '{"object": ');
    await postWebhook(stack.api!.url, { object: 'whatsapp_business_account', entry: [] });
    const res = await fetch(`${stack.api!.metricsUrl}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toMatch(
      /waconnect_http_requests_total\{route="\/api\/integrations\/whatsapp\/callback",method="GET",status="302"\} 1/,
    );
    expect(text).toMatch(
      /waconnect_http_request_duration_seconds_bucket\{le="0.005",route="\/healthz|waconnect_http_request_duration_seconds_bucket/,
    );
    expect(text).toMatch(/waconnect_webhooks_total\{outcome="rejected",reason="signature"\} 1/);
    expect(text).toMatch(/waconnect_webhooks_total\{outcome="rejected",reason="json"\} 1/);
    expect(text).toMatch(/waconnect_webhooks_total\{outcome="accepted",reason="nothing_handled"\} 1/);
    expect(text).toMatch(/waconnect_workflow_starts_total\{workflow="connectWhatsApp",result="started"\} 1/);
    expect(text).toMatch(/waconnect_integrations\{state="active",token_health="ok"\} [1-9]/);
  });
});

describe('SIGTERM', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ sandbox: true, worker: false });
  });
  afterAll(() => stack?.close());

  it('lets the API finish in-flight requests and both processes exit 0', async () => {
    const port = await freePort();
    const metricsPort = await freePort();
    const env = {
      ...stack.env,
      PORT: String(port),
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      CALLBACK_WAIT_MS: '3000',
      WORKER_METRICS_PORT: String(metricsPort),
    };
    const worker = spawnService('worker', env);
    const api = spawnService('api', env);
    const base = `http://127.0.0.1:${port}`;
    await expect
      .poll(
        () =>
          fetch(`${base}/readyz`).then(
            (r) => r.status,
            () => 0,
          ),
        { timeout: 20_000 },
      )
      .toBe(200);

    // A callback that waits its full 3 s for a connect stuck on Meta.
    stack.sandbox!.state.addFault({ operation: 'waba.subscribe', hangMs: 30_000 });
    const hung = () => stack.sandbox!.state.calls({ operation: 'waba.subscribe' }).filter((c) => c.faulted).length;
    const hungBefore = hung();
    const { startConnect, answerDialog, followCallback } = await import('./helpers/meta-flow.js');
    const callbackUrl = await answerDialog(await startConnect(base, newBusinessId()), { decision: 'approve' });
    // With the browser's connect cookie, as the browser that started it.
    const inFlight = followCallback(callbackUrl);
    // The connect is stuck on Meta (its subscribe hangs) while the callback waits for it.
    await expect.poll(hung, { timeout: 20_000 }).toBeGreaterThan(hungBefore);
    const apiExit = new Promise<number | null>((resolve) => api.child.once('exit', (code) => resolve(code)));
    api.child.kill('SIGTERM');
    expect((await inFlight).toString()).toContain('pending=true');
    // The worker's metrics: the SDK's own, and our Graph API calls through its meter.
    // The SDK exports its execution latencies once a task has run; on a busy machine that is later.
    const scrape = () => fetch(`http://127.0.0.1:${metricsPort}/metrics`).then((r) => r.text());
    await expect
      .poll(scrape, { timeout: 20_000 })
      .toMatch(/temporal_workflow_task_execution_latency|temporal_activity_execution_latency/);
    // Ours go through the same meter, which exports on its own interval.
    await expect
      .poll(scrape, { timeout: 20_000 })
      .toMatch(/waconnect_graph_api_calls\S*\{[^}]*operation="oauth.code_exchange"[^}]*\} 1/);
    expect(await apiExit).toBe(0);

    const workerExit = new Promise<number | null>((resolve) => worker.child.once('exit', (code) => resolve(code)));
    worker.child.kill('SIGTERM');
    expect(await workerExit).toBe(0);
  }, 60_000);
});
