// Signed media URLs: what signs them (a key of their own, or one derived from the keyring), what
// verifies them (every keyring key, so a rotation keeps live URLs working), and when they expire.
import { describe, expect, it } from 'vitest';
import { generateKeyringEntry, parseKeyring } from '../src/crypto.js';
import { checkMediaSignature, signedMediaUrl } from '../src/media/signed-url.js';

const configWith = (keyring: string, urlSigningKey?: string) => ({
  publicUrl: 'https://api.example.test',
  keyring: parseKeyring(keyring),
  media: { urlSigningKey },
});

function parts(url: string) {
  const parsed = new URL(url);
  return {
    id: Number(parsed.pathname.split('/').at(-1)),
    expires: Number(parsed.searchParams.get('expires')),
    sig: parsed.searchParams.get('sig')!,
  };
}

describe('signed media URLs', () => {
  const now = Date.UTC(2026, 11, 2, 8, 0, 0);

  it('verifies until it expires, and never for another id or expiry', () => {
    const config = configWith(generateKeyringEntry('k1'));
    const url = signedMediaUrl(config, 42, 60_000, now);
    expect(url.startsWith('https://api.example.test/api/media/42?expires=')).toBe(true);
    const { id, expires, sig } = parts(url);
    expect(checkMediaSignature(config, id, expires, sig, now)).toBe('valid');
    expect(checkMediaSignature(config, id, expires, sig, now + 61_000)).toBe('expired');
    expect(checkMediaSignature(config, 43, expires, sig, now)).toBe('invalid');
    expect(checkMediaSignature(config, id, expires + 1, sig, now)).toBe('invalid');
  });

  it('keeps working through a keyring rotation, and never under another keyring', () => {
    const old = generateKeyringEntry('old');
    const { id, expires, sig } = parts(signedMediaUrl(configWith(old), 7, 60_000, now));
    const rotated = configWith(`${generateKeyringEntry('new')},${old}`);
    expect(checkMediaSignature(rotated, id, expires, sig, now)).toBe('valid');
    expect(checkMediaSignature(configWith(generateKeyringEntry('old')), id, expires, sig, now)).toBe('invalid');
  });

  it('uses MEDIA_URL_SIGNING_KEY when it is set, not the keyring', () => {
    const keyring = generateKeyringEntry('k1');
    const own = configWith(keyring, 'a-media-url-signing-key-of-32-chars!!');
    const { id, expires, sig } = parts(signedMediaUrl(own, 9, 60_000, now));
    expect(checkMediaSignature(own, id, expires, sig, now)).toBe('valid');
    expect(checkMediaSignature(configWith(keyring), id, expires, sig, now)).toBe('invalid');
  });
});
