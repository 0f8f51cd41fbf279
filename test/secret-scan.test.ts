// The chaos run's secret scan finds a secret however it was encoded, and inside encrypted payloads.
import { describe, expect, it } from 'vitest';
import { codecKeyring, generateKeyringEntry, parseKeyring } from '../src/crypto.js';
import { EncryptionCodec } from '../src/temporal/codec.js';
import { SecretScan } from './chaos/secret-scan.js';

const SECRET = 'EAAGm0PX4ZCpsBAKZCZCsecret-token-value';

type Encoding = [string, (s: string) => string];

describe('secret scan', () => {
  it.each<Encoding>([
    ['raw', (s: string) => `token=${s};`],
    ['URL-encoded', (s: string) => `q=${encodeURIComponent(s + '/&')}`],
    ['hex', (s: string) => Buffer.from(`x${s}y`).toString('hex')],
    ['HEX', (s: string) => Buffer.from(s).toString('hex').toUpperCase()],
    ...[0, 1, 2, 3, 4].map(
      (offset) =>
        [
          `base64 at offset ${offset}`,
          (s: string) => Buffer.from(`${'p'.repeat(offset)}${s}tail`).toString('base64'),
        ] as Encoding,
    ),
    ['base64url', (s: string) => Buffer.from(`??${s}>>`).toString('base64url')],
  ])('finds a secret %s', (_, encode) => {
    const scan = new SecretScan([SECRET]);
    scan.search('here', encode(SECRET));
    expect(scan.leaks).toEqual(['here (secret #0)']);
  });

  it('finds a secret inside an encrypted payload of a history, and nothing in a clean one', async () => {
    const codec = new EncryptionCodec(codecKeyring(parseKeyring(generateKeyringEntry('k'))));
    const [leaky] = await codec.encode([
      { metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from(`"${SECRET}"`) },
    ]);
    const [clean] = await codec.encode([
      { metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from('42') },
    ]);
    const scan = new SecretScan([SECRET]);
    await scan.searchHistory('clean', { events: [{ input: { payloads: [clean] } }] }, codec);
    expect(scan.leaks).toEqual([]);
    await scan.searchHistory('leaky', { events: [{ input: { payloads: [leaky] } }] }, codec);
    expect(scan.leaks).toEqual(['leaky (decoded) (secret #0)']);
    expect(scan.searched).toMatchObject({ histories: 2, payloads: 2 });
  });

  it('reports every kind of place it had nothing to search in', () => {
    const scan = new SecretScan([SECRET]);
    scan.searched.logs = 1;
    expect(scan.emptiness()).toEqual([
      'secret scan: nothing to search in histories',
      'secret scan: nothing to search in payloads',
      'secret scan: nothing to search in tables',
    ]);
  });
});
