// The Temporal connection, client and data converter, made in one place for the API, the worker,
// the CLI subcommands and the tests.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import type { Keyring } from '../crypto.js';
import { EncryptionCodec } from './codec.js';

export const failureConverterPath = fileURLToPath(new URL('./failure-converter.cjs', import.meta.url));
if (!existsSync(failureConverterPath)) throw new Error(`missing ${failureConverterPath}: run npm run build`);

export function dataConverter(keyring: Keyring): DataConverter {
  return { payloadCodecs: [new EncryptionCodec(keyring)], failureConverterPath };
}

export interface TemporalSettings {
  address: string;
  namespace: string;
}

export async function connectClient(settings: TemporalSettings, keyring: Keyring): Promise<Client> {
  const connection = await Connection.connect({ address: settings.address, connectTimeout: '5s' });
  return new Client({ connection, namespace: settings.namespace, dataConverter: dataConverter(keyring) });
}
