// Connection settings come from Temporal's environment configuration: a profile file, or the
// TEMPORAL_* variables, with TLS, client certificates and API keys; one connectTemporal for all.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';
import { connectTemporal } from '../src/temporal/client.js';
import { testEnv } from './helpers/stack.js';

const dir = mkdtempSync(join(tmpdir(), 'waconnect-envconfig-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function configWith(env: NodeJS.ProcessEnv) {
  const base = testEnv();
  delete base.TEMPORAL_ADDRESS;
  return loadConfig({ ...base, ...env }, 'worker');
}

// Throwaway PEM-shaped text: the loader only reads bytes; nothing here is a real key.
const FAKE_CA = '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n';

describe('Temporal connection settings', () => {
  it('reads address and namespace from a named profile of a config file, and connects with it', async () => {
    const file = join(dir, 'temporal.toml');
    writeFileSync(
      file,
      `[profile.default]\naddress = "127.0.0.1:1"\n\n[profile.local]\naddress = "${inject('temporalAddress')}"\nnamespace = "default"\n`,
    );
    const config = configWith({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'local' });
    expect(config.temporal).toMatchObject({
      address: inject('temporalAddress'),
      namespace: 'default',
      profile: 'local',
    });
    const client = await connectTemporal(config);
    try {
      await expect(client.connection.workflowService.getSystemInfo({})).resolves.toBeTruthy();
    } finally {
      await client.connection.close();
    }
  });

  it('lets TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE override the profile', () => {
    const file = join(dir, 'override.toml');
    writeFileSync(file, '[profile.default]\naddress = "temporal.internal:7233"\nnamespace = "from-file"\n');
    const config = configWith({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_NAMESPACE: 'from-env' });
    expect(config.temporal).toMatchObject({ address: 'temporal.internal:7233', namespace: 'from-env' });
  });

  it('defaults to a local server without TLS', () => {
    const config = configWith({});
    expect(config.temporal.connection).toEqual({ address: '127.0.0.1:7233' });
    expect(config.temporal.namespace).toBe('default');
  });

  it('turns an API key into TLS with the key (Temporal Cloud)', () => {
    const config = configWith({
      TEMPORAL_ADDRESS: 'acme.a1b2c.tmprl.cloud:7233',
      TEMPORAL_NAMESPACE: 'acme.a1b2c',
      TEMPORAL_API_KEY: 'k'.repeat(40),
    });
    expect(config.temporal.connection).toMatchObject({
      address: 'acme.a1b2c.tmprl.cloud:7233',
      tls: true,
      apiKey: 'k'.repeat(40),
    });
  });

  it('reads mTLS settings: server CA, client certificate and key, server name', () => {
    const ca = join(dir, 'ca.pem');
    writeFileSync(ca, FAKE_CA);
    const config = configWith({
      TEMPORAL_ADDRESS: 'temporal.internal:7233',
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: ca,
      TEMPORAL_TLS_CLIENT_CERT_DATA: FAKE_CA,
      TEMPORAL_TLS_CLIENT_KEY_DATA: 'not-a-key',
      TEMPORAL_TLS_SERVER_NAME: 'temporal.internal',
    });
    type Bytes = Uint8Array;
    const tls = config.temporal.connection.tls as {
      serverNameOverride?: string;
      serverRootCACertificate?: Bytes;
      clientCertPair?: { crt: Bytes; key: Bytes };
    };
    const text = (bytes: Bytes | undefined) => (bytes ? Buffer.from(bytes).toString() : undefined);
    expect(tls.serverNameOverride).toBe('temporal.internal');
    expect(text(tls.serverRootCACertificate)).toBe(FAKE_CA);
    expect(text(tls.clientCertPair?.crt)).toBe(FAKE_CA);
    expect(text(tls.clientCertPair?.key)).toBe('not-a-key');
  });

  it('really uses TLS: a TLS connection to a plaintext server is refused', async () => {
    const config = configWith({ TEMPORAL_ADDRESS: inject('temporalAddress'), TEMPORAL_TLS: 'true' });
    await expect(connectTemporal(config)).rejects.toThrow();
  });

  it('names a missing profile at start, without echoing the file’s secrets', () => {
    const file = join(dir, 'secret.toml');
    writeFileSync(file, '[profile.default]\napi_key = "super-secret-key-value"\n');
    const error = (() => {
      try {
        configWith({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'nope' });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain("Profile 'nope' not found");
    expect((error as Error).message).not.toContain('super-secret-key-value');
  });
});
