// AES-256-GCM payload codec for the Temporal client, the worker and the UI's codec endpoint.
// Every payload (inputs, results, failure messages) leaves the process encrypted, so the
// server's history and the UI show ciphertext unless the codec endpoint decodes it. The worker's
// codec is strict: a payload it did not encrypt (anyone with access to the namespace can start a
// workflow with plain JSON input) is refused, never run.
import type { Payload, PayloadCodec } from '@temporalio/common';
import proto from '@temporalio/proto';
import { open, seal, type Keyring } from '../crypto.js';

const ENCODING = 'binary/encrypted';
const AAD = 'temporal-payload';

export interface CodecOptions {
  /** Refuse payloads that are not ours (the worker); clients read whatever they are given. */
  strict?: boolean;
  /** Called for each refused payload, before the decode fails. */
  onRefused?: () => void;
}

/** Thrown by a strict codec: the workflow task or activity fails, visibly, and nothing of it runs. */
export class UnencryptedPayloadError extends Error {
  override name = 'UnencryptedPayloadError';
  constructor() {
    super(
      'refused an unencrypted payload: this worker runs only what a waconnect client encrypted ' +
        '(a workflow started or signalled by hand, with plain input?)',
    );
  }
}

export class EncryptionCodec implements PayloadCodec {
  constructor(
    /** From codecKeyring() (src/crypto.ts). */
    private readonly keyring: Keyring,
    private readonly options: CodecOptions = {},
  ) {}

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
      if (Buffer.from(payload.metadata?.encoding ?? []).toString() !== ENCODING) {
        if (!this.options.strict) return payload;
        this.options.onRefused?.();
        throw new UnencryptedPayloadError();
      }
      const keyId = Buffer.from(payload.metadata?.['encryption-key-id'] ?? []).toString();
      if (!payload.data) throw new Error('encrypted payload without data');
      const plain = open(this.keyring, { keyId, bytes: Buffer.from(payload.data) }, AAD);
      return proto.temporal.api.common.v1.Payload.decode(plain);
    });
  }
}
