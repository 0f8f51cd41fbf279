// Temporal down: the webhook answers 503 so Meta delivers again, and nothing is lost once it is back.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startDevServer, type DevServer } from '../src/temporal/dev-server.js';
import { connectThroughMeta, getStatus } from './helpers/meta-flow.js';
import { newBusinessId } from './helpers/factories.js';
import { freePort } from './helpers/ports.js';
import { startStack, type Stack } from './helpers/stack.js';
import { messageItem, messagesWebhook, postWebhook } from './helpers/webhooks.js';

describe('webhooks while Temporal is down', () => {
  let dir: string;
  let port: number;
  let server: DevServer;
  let stack: Stack;
  const startServer = () =>
    startDevServer({ cli: { kind: 'path', path: inject('temporalCliPath'), origin: 'PATH' }, port, dbFile: join(dir, 'temporal.db') });

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

  it('answers 503 while Temporal is stopped and handles the redelivery once it is back', async () => {
    const businessId = newBusinessId();
    await connectThroughMeta(stack.api!.url, businessId);
    const phoneNumberId = (await getStatus(stack.api!.url, businessId)).accounts[0].phoneNumbers[0].phoneNumberId as string;
    await server.stop();

    const direct = await postWebhook(stack.api!.url, messagesWebhook(phoneNumberId, { messages: [messageItem({ phoneNumberId, from: '1' })] }));
    expect(direct.status).toBe(503);
    expect(((await direct.json()) as { error: { code: string } }).error.code).toBe('temporal_unavailable');

    const sandbox = stack.sandbox!.state;
    const { messageId, webhookId } = sandbox.sendCustomerMessage({ phoneNumberId, from: '4477001', type: 'text', text: 'are you there?' });
    await expect.poll(() => sandbox.deliveries({ webhookId }).filter((d) => d.httpStatus === 503).length, { timeout: 30_000 }).toBeGreaterThan(0);

    server = await startServer();
    await expect.poll(() => sandbox.calls({ operation: 'messages.send' }).filter((c) => c.messageContextId === messageId && c.effect === 'applied').length, { timeout: 60_000, interval: 500 }).toBe(1);
    expect(await stack.db('messages').where({ wamid: messageId })).toHaveLength(1);
  }, 120_000);
});
