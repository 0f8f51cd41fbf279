// The Temporal connection, client and data converter, made in one place for the API, the worker,
// the CLI subcommands and the tests. Connection settings (address, namespace, TLS, client
// certificate, API key, gRPC headers) come from Temporal's environment configuration, read once
// by the config module.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { NativeConnection } from '@temporalio/worker';
import type { Config } from '../config.js';
import type { Keyring } from '../crypto.js';
import { EncryptionCodec, type CodecOptions } from './codec.js';

export const failureConverterPath = fileURLToPath(new URL('./failure-converter.cjs', import.meta.url));
if (!existsSync(failureConverterPath)) throw new Error(`missing ${failureConverterPath}: run npm run build`);

/** `keyring` is the codec's (codecKeyring()); the worker's is strict. */
export function dataConverter(keyring: Keyring, options: CodecOptions = {}): DataConverter {
  return { payloadCodecs: [new EncryptionCodec(keyring, options)], failureConverterPath };
}

export interface ConnectOptions {
  /**
   * Lazy: connect on first use, so a process started before its Temporal server comes up
   * (the API) answers /readyz 503 meanwhile and reconnects by itself.
   */
  lazy?: boolean;
}

function connectionOptions(config: Config) {
  const { address, tls, apiKey, metadata } = config.temporal.connection;
  return {
    address,
    ...(tls !== undefined ? { tls } : {}),
    ...(apiKey !== undefined ? { apiKey } : {}),
    ...(metadata !== undefined ? { metadata } : {}),
  };
}

/** A Temporal client on the configured namespace, with our payload codec. */
export async function connectTemporal(config: Config, options: ConnectOptions = {}): Promise<Client> {
  const settings = { ...connectionOptions(config), connectTimeout: '5s' };
  const connection = options.lazy ? Connection.lazy(settings) : await Connection.connect(settings);
  return new Client({
    connection,
    namespace: config.temporal.namespace,
    dataConverter: dataConverter(config.codecKeyring),
  });
}

/** The worker's native connection, with the same settings as the client's. */
export async function connectTemporalWorker(config: Config): Promise<NativeConnection> {
  return NativeConnection.connect(connectionOptions(config));
}
