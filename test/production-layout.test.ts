// The production layout with mTLS: the full Temporal server requires client certificates, our
// processes connect with one through connectTemporal's settings, and a client without one (or
// with one from another CA, or without TLS) is refused. A customer's message goes through the
// balancer and the two API processes and is answered; with one API and one worker killed the
// other pair answers; and the layout stops to the last process.
import { NativeConnection, type NativeConnectionOptions } from '@temporalio/worker';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { connectTemporal } from '../src/temporal/client.js';
import { connectThroughMeta, getStatus } from './helpers/meta-flow.js';
import { startProductionLayout, type ProductionLayout } from './layout/production.js';

/** Connects as a worker does (the SDK's native connection checks the server at connect). */
async function refused(options: NativeConnectionOptions): Promise<string> {
  try {
    const connection = await NativeConnection.connect(options);
    await connection.close();
  } catch (error) {
    return (error as Error).message;
  }
  return 'accepted';
}

describe('the production layout with mTLS', () => {
  let layout: ProductionLayout;
  let phoneNumberId: string;
  beforeAll(async () => {
    layout = await startProductionLayout({ tls: true, log: () => undefined });
  }, 300_000);
  afterAll(async () => {
    await layout?.stop();
  }, 120_000);

  it('lets our processes in with their client certificate, through connectTemporal', async () => {
    const config = loadConfig(layout.env, 'worker');
    expect(config.temporal.connection.tls).toBeTruthy();
    const client = await connectTemporal(config);
    try {
      const info = await client.connection.workflowService.getSystemInfo({});
      expect(info.serverVersion).toBe('1.29.1');
    } finally {
      await client.connection.close();
    }
  });

  it('refuses a client without a certificate, with another CA’s certificate, or without TLS', async () => {
    const certs = layout.certificates!;
    const ca = readFileSync(certs.caCert);
    const address = layout.temporal.address;
    const tls = { serverNameOverride: certs.serverName, serverRootCACertificate: ca };
    expect(await refused({ address, tls })).not.toBe('accepted');
    expect(
      await refused({
        address,
        tls: {
          ...tls,
          clientCertPair: { crt: readFileSync(certs.strangerCert), key: readFileSync(certs.strangerKey) },
        },
      }),
    ).not.toBe('accepted');
    expect(await refused({ address })).not.toBe('accepted');
    // The same options with our certificate are accepted: the refusals are the certificate's doing.
    expect(
      await refused({
        address,
        tls: { ...tls, clientCertPair: { crt: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey) } },
      }),
    ).toBe('accepted');
  });

  it('connects a business and answers its customer through the balancer and both APIs', async () => {
    const jwt = layout.secrets.AUTH_JWT_SECRET;
    await connectThroughMeta(layout.apiUrl, 'layout-biz', { decision: 'approve' }, jwt);
    await expect
      .poll(async () => (await getStatus(layout.apiUrl, 'layout-biz', jwt)).connected, { timeout: 60_000 })
      .toBe(true);
    const status = await getStatus(layout.apiUrl, 'layout-biz', jwt);
    phoneNumberId = status.accounts[0].phoneNumbers[0].phoneNumberId;
    const state = layout.sandbox.state;
    const { messageId } = state.sendCustomerMessage({ phoneNumberId, from: '4917000000001', type: 'text', text: 'hi' });
    await expect
      .poll(() => state.calls({ operation: 'messages.send' }).some((c) => c.messageContextId === messageId), {
        timeout: 60_000,
      })
      .toBe(true);
    // Round robin: both APIs answered requests.
    expect([...layout.balanced.keys()].sort()).toEqual(Object.values(layout.apiPorts).sort());
  }, 120_000);

  it('answers with one API and one worker killed, by the other pair', async () => {
    const state = layout.sandbox.state;
    for (const name of [layout.instances.api[0]!, layout.instances.worker[0]!]) await layout.killService(name);
    const { messageId } = state.sendCustomerMessage({
      phoneNumberId,
      from: '4917000000002',
      type: 'text',
      text: 'hello',
    });
    await expect
      .poll(() => state.calls({ operation: 'messages.send' }).some((c) => c.messageContextId === messageId), {
        timeout: 60_000,
      })
      .toBe(true);
    for (const name of [layout.instances.api[0]!, layout.instances.worker[0]!]) await layout.startService(name);
  }, 120_000);

  it('stops every process it started', async () => {
    const children = [...layout.services.values()].map((s) => s.child);
    const server = layout.temporalServer.child;
    await layout.stop();
    for (const child of [...children, server]) expect(child.exitCode !== null || child.signalCode !== null).toBe(true);
    expect(await refused({ address: layout.temporal.address })).not.toBe('accepted');
    await expect(fetch(`${layout.apiUrl}/healthz`)).rejects.toThrow();
    layout = undefined as unknown as ProductionLayout;
  }, 120_000);
});
