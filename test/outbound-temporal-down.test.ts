// A send accepted while Temporal is down is kept (its row and its workflow start commit together)
// and goes out once, when Temporal is back and the outbox drain starts it.
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startDevServer, type DevServer } from '../src/temporal/dev-server.js';
import { connectedIntegration } from './helpers/connected.js';
import { authHeaders } from './helpers/jwt.js';
import { freePort } from './helpers/ports.js';
import { startStack, type Stack } from './helpers/stack.js';
import { quietPeriod } from './helpers/waits.js';

describe('sends while Temporal is down', () => {
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
    dir = mkdtempSync(join(tmpdir(), 'waconnect-send-down-'));
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

  it('answers 202, keeps the send, and sends it once after Temporal is back', async () => {
    const api = stack.api!.url;
    const { businessId, phoneNumberId } = await connectedIntegration(stack);
    const sandbox = stack.sandbox!.state;
    const customer = '4917099001';
    sandbox.sendCustomerMessage({ phoneNumberId, from: customer, type: 'text', text: 'hi' });
    const sent = (text: string) =>
      sandbox.calls({ operation: 'messages.send', objectId: phoneNumberId }).filter((c) => c.textBody === text);
    await expect
      .poll(() => sandbox.calls({ operation: 'messages.send', objectId: phoneNumberId }).length, {
        timeout: 30_000,
      })
      .toBe(1);
    await server.stop();

    const key = randomUUID();
    const text = `kept ${key}`;
    const res = await fetch(`${api}/api/integrations/whatsapp/messages`, {
      method: 'POST',
      headers: { ...(await authHeaders(businessId)), 'content-type': 'application/json', 'idempotency-key': key },
      body: JSON.stringify({ to: customer, phoneNumberId, text }),
    });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: number };
    const start = await stack
      .db('workflow_starts')
      .where({ workflow_type: 'sendMessage', business_id: businessId })
      .first();
    expect(start?.args).toEqual([id]);

    server = await startServer();
    await expect.poll(() => sent(text).length, { timeout: 60_000, interval: 500 }).toBe(1);
    await quietPeriod(1_500);
    expect(sent(text)).toHaveLength(1);
  }, 120_000);
});
