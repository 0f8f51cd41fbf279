// Disconnect is durable: a DELETE /disconnect that ran while Temporal was down deactivated the
// integration but never started DisconnectWhatsApp; reconcile finishes it (unsubscribed at Meta,
// token destroyed).
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiMetrics } from '../src/metrics.js';
import { disconnect } from '../src/services/disconnect.js';
import { reconcileSchedules } from '../src/services/reconcile.js';
import { connectThroughMeta, getStatus } from './helpers/meta-flow.js';
import { newBusinessId } from './helpers/factories.js';
import { freePort } from './helpers/ports.js';
import { startStack, type Stack } from './helpers/stack.js';
import { quietPeriod } from './helpers/waits.js';

describe('pending disconnects', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ api: true, sandbox: true, ownDatabase: true });
  });
  afterAll(() => stack?.close());

  it('finishes in reconcile a disconnect that Temporal was down for', async () => {
    const businessId = newBusinessId();
    await connectThroughMeta(stack.api!.url, businessId);
    const status = await getStatus(stack.api!.url, businessId);
    const integrationId = status.integration.id as string;
    const wabaId = status.accounts[0].wabaId as string;

    const downConnection = Connection.lazy({ address: `127.0.0.1:${await freePort()}`, connectTimeout: '500ms' });
    const down = new Client({ connection: downConnection, namespace: stack.config.temporal.namespace });
    try {
      const deps = { config: stack.config, db: stack.db, temporal: down, metrics: new ApiMetrics(), log: stack.log };
      await expect(disconnect(deps, businessId)).rejects.toThrow();
    } finally {
      await downConnection.close().catch(() => undefined);
    }
    const left = await stack.db('channel_integrations').where({ id: integrationId }).first();
    expect(left).toMatchObject({ is_active: false });
    expect(left!.credentials).not.toBeNull();
    expect(stack.sandbox!.state.subscriptions(wabaId).subscribed).toBe(true);
    // A disconnect that just ran is left a minute to start its own workflow.
    await reconcileSchedules(stack.db, stack.client, stack.config);
    await quietPeriod(500);
    expect((await stack.db('channel_integrations').where({ id: integrationId }).first())!.credentials).not.toBeNull();
    await stack
      .db('channel_integrations')
      .where({ id: integrationId })
      .update({ disconnected_at: new Date(Date.now() - 2 * 60_000) });

    const report = await reconcileSchedules(stack.db, stack.client, stack.config);
    expect(report.pendingDisconnects).toBeGreaterThanOrEqual(1);
    await expect
      .poll(async () => (await stack.db('channel_integrations').where({ id: integrationId }).first())!.credentials, {
        timeout: 20_000,
      })
      .toBeNull();
    expect(stack.sandbox!.state.subscriptions(wabaId).subscribed).toBe(false);
    expect((await getStatus(stack.api!.url, businessId)).connected).toBe(false);
  });
});
