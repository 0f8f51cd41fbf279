// The secret scan of the chaos run: every form a secret can take in a log line, a history or a
// column. Raw, URL-encoded, hex (either case), and base64 and base64url at each of the three
// offsets a secret can sit at inside a longer encoded value (the characters that depend only on the
// secret's own bytes); workflow histories are searched as stored and after the codec decoded them.
import type { Payload } from '@temporalio/common';
import type { EncryptionCodec } from '../../src/temporal/codec.js';

/** Every string a secret shows up as in one of those encodings. */
export function secretForms(secret: string): string[] {
  const bytes = Buffer.from(secret, 'utf8');
  const forms = new Set([
    secret,
    encodeURIComponent(secret),
    bytes.toString('hex'),
    bytes.toString('hex').toUpperCase(),
  ]);
  for (let offset = 0; offset < 3; offset++) {
    const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString('base64');
    // Characters of a 3-byte group that holds a byte of the prefix, and the last group (which the
    // bytes after the secret change), depend on more than the secret: drop them.
    const stable = encoded.slice(offset === 0 ? 0 : 4, -4);
    if (stable.length < 8) continue;
    forms.add(stable);
    forms.add(stable.replace(/\+/g, '-').replace(/\//g, '_'));
  }
  return [...forms];
}

export class SecretScan {
  private readonly forms: Array<{ secret: number; form: string }>;
  /** How much was searched, by kind: a scan that found nothing to search must fail. */
  readonly searched = { logs: 0, histories: 0, payloads: 0, tables: 0 };
  readonly leaks: string[] = [];

  constructor(secrets: string[]) {
    this.forms = secrets.flatMap((secret, i) => secretForms(secret).map((form) => ({ secret: i, form })));
  }

  search(where: string, text: string): void {
    const hit = this.forms.find(({ form }) => text.includes(form));
    if (hit) this.leaks.push(`${where} (secret #${hit.secret})`);
  }

  /** A history as stored (JSON), then every payload in it decoded by the codec. */
  async searchHistory(where: string, history: unknown, codec: EncryptionCodec): Promise<void> {
    this.searched.histories++;
    this.search(where, JSON.stringify(history));
    const payloads: Payload[] = [];
    const collect = (value: unknown): void => {
      if (!value || typeof value !== 'object' || ArrayBuffer.isView(value)) return;
      if (Array.isArray(value)) return value.forEach(collect);
      const record = value as Record<string, unknown>;
      if (record.data && ArrayBuffer.isView(record.data) && record.metadata && typeof record.metadata === 'object') {
        payloads.push(record as Payload);
        return;
      }
      Object.values(record).forEach(collect);
    };
    collect(history);
    const decoded = await codec.decode(payloads);
    this.searched.payloads += decoded.length;
    for (const p of decoded) this.search(`${where} (decoded)`, Buffer.from(p.data ?? []).toString('utf8'));
  }

  /** What makes the scan worthless: a kind of place it had nothing of. */
  emptiness(): string[] {
    return Object.entries(this.searched)
      .filter(([, n]) => n === 0)
      .map(([kind]) => `secret scan: nothing to search in ${kind}`);
  }
}
