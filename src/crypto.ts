// Encryption in one place: the credentials keyring (AES-256-GCM with key ids so keys can rotate),
// keys derived from it for other purposes, and the hashes and random values the app needs.
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  hkdfSync,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';

export interface Keyring {
  /** The key id new ciphertext is written under; undefined only for roles that never encrypt. */
  primary: string | undefined;
  keys: Map<string, Buffer>;
}

const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;

/** Parses `keyId:base64key[,keyId:base64key...]`. The first entry encrypts; all of them decrypt. */
export function parseKeyring(text: string): Keyring {
  const keys = new Map<string, Buffer>();
  let primary: string | undefined;
  for (const entry of text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const colon = entry.indexOf(':');
    const id = colon > 0 ? entry.slice(0, colon) : '';
    if (!KEY_ID.test(id)) throw new Error('each entry must be keyId:base64key, keyId of letters, digits, _ or -');
    const key = Buffer.from(entry.slice(colon + 1), 'base64');
    if (key.length !== 32) throw new Error(`key "${id}" must be 32 bytes of base64 (openssl rand -base64 32)`);
    if (keys.has(id)) throw new Error(`key id "${id}" appears twice`);
    keys.set(id, key);
    primary ??= id;
  }
  if (!primary) throw new Error('no key given');
  return { primary, keys };
}

export function emptyKeyring(): Keyring {
  return { primary: undefined, keys: new Map() };
}

export function generateKeyringEntry(id: string): string {
  return `${id}:${randomBytes(32).toString('base64')}`;
}

/** A keyring for another purpose: each key is HKDF-derived, so a payload key never equals a credentials key. */
function deriveKeyring(keyring: Keyring, purpose: string): Keyring {
  const keys = new Map<string, Buffer>();
  for (const [id, key] of keyring.keys) {
    keys.set(id, Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), `waconnect:${purpose}`, 32)));
  }
  return { primary: keyring.primary, keys };
}

/**
 * The codec's keyring: TEMPORAL_CODEC_KEY's keys when set (the first encrypts), then keys derived
 * (HKDF) from the credentials keyring, which encrypted every payload before the codec had keys of its
 * own and still decrypt those. Without TEMPORAL_CODEC_KEY the derived keys encrypt too.
 */
export function codecKeyring(credentials: Keyring, own?: Keyring): Keyring {
  const derived = deriveKeyring(credentials, 'temporal-payload-codec');
  if (!own) return derived;
  const keys = new Map(own.keys);
  for (const [id, key] of derived.keys) if (!keys.has(id)) keys.set(id, key);
  return { primary: own.primary, keys };
}

const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface Sealed {
  keyId: string;
  /** iv | tag | ciphertext */
  bytes: Buffer;
}

export function seal(keyring: Keyring, plaintext: Buffer, aad: string): Sealed {
  const keyId = keyring.primary;
  const key = keyId === undefined ? undefined : keyring.keys.get(keyId);
  if (keyId === undefined || !key) throw new Error('no encryption key configured');
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { keyId, bytes: Buffer.concat([iv, cipher.getAuthTag(), body]) };
}

export function open(keyring: Keyring, sealed: Sealed, aad: string): Buffer {
  const key = keyring.keys.get(sealed.keyId);
  if (!key) throw new Error(`ciphertext was written under key "${sealed.keyId}", which is not in the keyring`);
  const iv = sealed.bytes.subarray(0, IV_BYTES);
  const tag = sealed.bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', key, iv);
  decipher.setAAD(Buffer.from(aad));
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(sealed.bytes.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
}

/** Text form for database columns: `v1.<keyId>.<base64url>`. */
export function encryptText(keyring: Keyring, plaintext: string, aad: string): string {
  const sealed = seal(keyring, Buffer.from(plaintext, 'utf8'), aad);
  return `v1.${sealed.keyId}.${sealed.bytes.toString('base64url')}`;
}

/** The key id a text ciphertext was written under. */
export function keyIdOf(envelope: string): string {
  const [version, keyId] = envelope.split('.');
  if (version !== 'v1' || !keyId) throw new Error('not a waconnect ciphertext');
  return keyId;
}

/** The ciphertext under the keyring's first key, or null when it is already there. */
export function reencryptText(keyring: Keyring, envelope: string, aad: string): string | null {
  if (keyIdOf(envelope) === keyring.primary) return null;
  return encryptText(keyring, decryptText(keyring, envelope, aad), aad);
}

export function decryptText(keyring: Keyring, envelope: string, aad: string): string {
  const [version, keyId, body] = envelope.split('.');
  if (version !== 'v1' || !keyId || !body) throw new Error('not a waconnect ciphertext');
  return open(keyring, { keyId, bytes: Buffer.from(body, 'base64url') }, aad).toString('utf8');
}

/**
 * A keyed hash (HMAC-SHA256 under a key derived for `purpose` from the primary key), written as
 * `<keyId>.<hex>`: the same value gives the same hash under one key, and nobody without the key can
 * test a guess (a phone number's plain hash can be reversed by trying every number).
 */
export function keyedHash(keyring: Keyring, purpose: string, value: string): string {
  const derived = deriveKeyring(keyring, purpose);
  const keyId = derived.primary;
  const key = keyId === undefined ? undefined : derived.keys.get(keyId);
  if (keyId === undefined || !key) throw new Error('no encryption key configured');
  return `${keyId}.${createHmac('sha256', key).update(value).digest('hex')}`;
}

export function sha256Hex(value: string | Buffer): string {
  return createHash('sha256').update(value).digest('hex');
}

/** 256 random bits, URL-safe. */
export function randomToken(): string {
  return randomBytes(32).toString('base64url');
}

export function constantTimeEqual(a: string | Buffer, b: string | Buffer): boolean {
  const left = typeof a === 'string' ? Buffer.from(a) : a;
  const right = typeof b === 'string' ? Buffer.from(b) : b;
  // Compare digests so unequal lengths take the same time and never throw.
  return (
    timingSafeEqual(createHash('sha256').update(left).digest(), createHash('sha256').update(right).digest()) &&
    left.length === right.length
  );
}
