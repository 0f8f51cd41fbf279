import { describe, expect, it } from 'vitest';
import {
  codecKeyring,
  constantTimeEqual,
  decryptText,
  encryptText,
  generateKeyringEntry,
  parseKeyring,
} from '../src/crypto.js';
import { EncryptionCodec, UnencryptedPayloadError } from '../src/temporal/codec.js';

describe('credentials keyring', () => {
  it('encrypts with the first key and decrypts with any key in the ring', () => {
    const oldEntry = generateKeyringEntry('old');
    const newEntry = generateKeyringEntry('new');
    const before = encryptText(parseKeyring(oldEntry), 'EAAG-secret-token', 'aad');
    expect(before).toMatch(/^v1\.old\./);
    expect(before).not.toContain('secret');

    const rotated = parseKeyring(`${newEntry},${oldEntry}`);
    expect(decryptText(rotated, before, 'aad')).toBe('EAAG-secret-token');
    expect(encryptText(rotated, 'x', 'aad')).toMatch(/^v1\.new\./);
  });

  it('rejects ciphertext under another purpose, a tampered body or a missing key', () => {
    const ring = parseKeyring(generateKeyringEntry('k'));
    const sealed = encryptText(ring, 'token', 'credentials');
    expect(() => decryptText(ring, sealed, 'staging')).toThrow();
    const tampered = sealed.slice(0, -2) + (sealed.endsWith('A') ? 'BB' : 'AA');
    expect(() => decryptText(ring, tampered, 'credentials')).toThrow();
    expect(() => decryptText(parseKeyring(generateKeyringEntry('other')), sealed, 'credentials')).toThrow(
      /not in the keyring/,
    );
  });

  it('rejects malformed keyrings', () => {
    expect(() => parseKeyring('')).toThrow(/no key/);
    expect(() => parseKeyring('nokey')).toThrow(/keyId:base64key/);
    expect(() => parseKeyring('a:AAAA')).toThrow(/32 bytes/);
    const entry = generateKeyringEntry('a');
    expect(() => parseKeyring(`${entry},${entry}`)).toThrow(/twice/);
  });

  it('compares secrets in constant time without throwing on length', () => {
    expect(constantTimeEqual('abc', 'abc')).toBe(true);
    expect(constantTimeEqual('abc', 'abcd')).toBe(false);
    expect(constantTimeEqual('', 'a')).toBe(false);
  });
});

describe('payload codec', () => {
  it('round-trips payloads and leaves no plaintext on the wire', async () => {
    const codec = new EncryptionCodec(codecKeyring(parseKeyring(generateKeyringEntry('k'))));
    const payload = {
      metadata: { encoding: Buffer.from('json/plain') },
      data: Buffer.from('{"accessToken":"EAAG-very-secret"}'),
    };
    const [encoded] = await codec.encode([payload]);
    expect(Buffer.from(encoded!.data!).toString('latin1')).not.toContain('EAAG');
    expect(Buffer.from(encoded!.metadata!.encoding!).toString()).toBe('binary/encrypted');
    const [decoded] = await codec.decode([encoded!]);
    expect(Buffer.from(decoded!.data!).toString()).toBe('{"accessToken":"EAAG-very-secret"}');
  });

  it('refuses in strict mode a payload it did not encrypt, and counts it', async () => {
    let refused = 0;
    const keyring = codecKeyring(parseKeyring(generateKeyringEntry('k')));
    const strict = new EncryptionCodec(keyring, { strict: true, onRefused: () => refused++ });
    const plain = { metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from('{"messageId":1}') };
    await expect(strict.decode([plain])).rejects.toBeInstanceOf(UnencryptedPayloadError);
    expect(refused).toBe(1);
    // What a client of the same deployment encrypted passes.
    const [encoded] = await new EncryptionCodec(keyring).encode([plain]);
    expect(Buffer.from((await strict.decode([encoded!]))[0]!.data!).toString()).toBe('{"messageId":1}');
  });

  it('encrypts under TEMPORAL_CODEC_KEY once it is set, and still reads payloads of the derived keys', async () => {
    const credentials = parseKeyring(generateKeyringEntry('k1'));
    const before = new EncryptionCodec(codecKeyring(credentials));
    const after = new EncryptionCodec(codecKeyring(credentials, parseKeyring(generateKeyringEntry('c1'))));
    const payload = { metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from('"x"') };
    const [old] = await before.encode([payload]);
    const [fresh] = await after.encode([payload]);
    expect(Buffer.from(old!.metadata!['encryption-key-id']!).toString()).toBe('k1');
    expect(Buffer.from(fresh!.metadata!['encryption-key-id']!).toString()).toBe('c1');
    expect(Buffer.from((await after.decode([old!]))[0]!.data!).toString()).toBe('"x"');
    await expect(before.decode([fresh!])).rejects.toThrow(/key "c1"/);
  });
});
