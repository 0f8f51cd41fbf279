// Temporal down: the webhook still answers 200 once PostgreSQL committed it, and the outbox drain
// starts the work when Temporal is back: one reply, nothing lost.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startDevServer, type DevServer } from '../src/temporal/dev-server.js';
import { connectedIntegration } from './helpers/connected.js';
import { getStatus } from './helpers/meta-flow.js';
import { freePort } from './helpers/ports.js';
import { startStack, type Stack } from './helpers/stack.js';
import { messageItem, messagesWebhook, postWebhook } from './helpers/webhooks.js';
import { quietPeriod } from './helpers/waits.js';

describe('webhooks while Temporal is down', () => {
  let dir: string;
  let port: number;
  let server: DevServer;
  let stack: Stack;
  const startServer = () =>
    startDevServer({
      cli: { kind: 'path', path: inject('temporalCliPath'), origin: 'PATH' },
      port,
      dbFile: join(dir, 'temporal.db'),
    });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'waconnect-temporal-down-'));
    chmodSync(dir, 0o755);
    port = await freePort();
    server = await startServer();
    stack = await startStack({ api: true, sandbox: true, env: { TEMPORAL_ADDRESS: server.address } });
  });
  afterAll(async () => {
    await stack?.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers 200 while Temporal is stopped and replies once after it is back', async () => {
    const { businessId } = await connectedIntegration(stack);
    const phoneNumberId = (await getStatus(stack.api!.url, businessId)).accounts[0].phoneNumbers[0]
      .phoneNumberId as string;
    await server.stop();

    const direct = messageItem({ phoneNumberId, from: '4477002' });
    const started = Date.now();
    const res = await postWebhook(stack.api!.url, messagesWebhook(phoneNumberId, { messages: [direct] }));
    expect(res.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(2_000);

    const sandbox = stack.sandbox!.state;
    const { messageId, webhookId } = sandbox.sendCustomerMessage({
      phoneNumberId,
      from: '4477001',
      type: 'text',
      text: 'are you there?',
    });
    await expect
      .poll(() => sandbox.deliveries({ webhookId }).filter((d) => d.httpStatus === 200).length, { timeout: 30_000 })
      .toBe(1);
    expect(await stack.db('messages').where({ wamid: messageId })).toHaveLength(1);
    const [{ count }] = (await stack
      .db('workflow_starts')
      .whereNull('started_at')
      .count({ count: '*' })) as unknown as [{ count: number }];
    expect(Number(count)).toBeGreaterThanOrEqual(2);

    server = await startServer();
    const sends = (wamid: string) =>
      sandbox
        .calls({ operation: 'messages.send' })
        .filter((c) => c.messageContextId === wamid && c.effect === 'applied').length;
    await expect.poll(() => sends(messageId), { timeout: 60_000, interval: 500 }).toBe(1);
    // The message posted directly (its customer unknown to the sandbox) is also handled, to an end state.
    await expect
      .poll(
        async () =>
          (
            await stack
              .db('messages')
              .where({ wamid: direct.id as string })
              .first()
          )?.status,
        { timeout: 30_000 },
      )
      .not.toBe('received');
    await expect
      .poll(async () => (await stack.db('messages').where({ wamid: messageId }).first())?.status, { timeout: 10_000 })
      .toBe('replied');
    await quietPeriod(1_500);
    expect(sends(messageId)).toBe(1);
  }, 120_000);
});
