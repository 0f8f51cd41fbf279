// AES-256-GCM payload codec for the Temporal client, the worker and the UI's codec endpoint.
// Every payload (inputs, results, failure messages) leaves the process encrypted, so the
// server's history and the UI show ciphertext unless the codec endpoint decodes it.
import type { Payload, PayloadCodec } from '@temporalio/common';
import proto from '@temporalio/proto';
import { deriveKeyring, open, seal, type Keyring } from '../crypto.js';

const ENCODING = 'binary/encrypted';
const AAD = 'temporal-payload';

export class EncryptionCodec implements PayloadCodec {
  private readonly keyring: Keyring;

  /** Takes the credentials keyring and derives its own keys from it (HKDF). */
  constructor(credentialsKeyring: Keyring) {
    this.keyring = deriveKeyring(credentialsKeyring, 'temporal-payload-codec');
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const plain = Buffer.from(proto.temporal.api.common.v1.Payload.encode(payload).finish());
      const sealed = seal(this.keyring, plain, AAD);
      return {
        metadata: {
          encoding: Buffer.from(ENCODING),
          'encryption-key-id': Buffer.from(sealed.keyId),
        },
        data: sealed.bytes,
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      if (Buffer.from(payload.metadata?.encoding ?? []).toString() !== ENCODING) return payload;
      const keyId = Buffer.from(payload.metadata?.['encryption-key-id'] ?? []).toString();
      if (!payload.data) throw new Error('encrypted payload without data');
      const plain = open(this.keyring, { keyId, bytes: Buffer.from(payload.data) }, AAD);
      return proto.temporal.api.common.v1.Payload.decode(plain);
    });
  }
}
