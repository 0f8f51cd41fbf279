// Short-lived signed URLs for media (GET /api/media/{id}?expires=..&sig=..), for the business's AI
// brain: HMAC-SHA256 over the media id and expiry under MEDIA_URL_SIGNING_KEY, or a key derived from
// the credentials keyring for this purpose alone (every keyring key verifies, the first signs).
import { createHmac } from 'node:crypto';
import type { Config } from '../config.js';
import { constantTimeEqual, deriveKeyring } from '../crypto.js';

type SigningConfig = Pick<Config, 'publicUrl' | 'keyring'> & { media: Pick<Config['media'], 'urlSigningKey'> };

function signingKeys(config: SigningConfig): Buffer[] {
  if (config.media.urlSigningKey) return [Buffer.from(config.media.urlSigningKey, 'utf8')];
  const derived = deriveKeyring(config.keyring, 'media-url');
  const primary = derived.primary === undefined ? undefined : derived.keys.get(derived.primary);
  if (!primary) throw new Error('no key to sign media URLs (set MEDIA_URL_SIGNING_KEY or CREDENTIALS_ENCRYPTION_KEY)');
  return [primary, ...[...derived.keys.values()].filter((key) => key !== primary)];
}

function signature(key: Buffer, mediaId: number, expires: number): string {
  return createHmac('sha256', key).update(`media:${mediaId}:${expires}`).digest('base64url');
}

/** A URL that serves this media without other credentials until `ttlMs` from now. */
export function signedMediaUrl(config: SigningConfig, mediaId: number, ttlMs: number, now = Date.now()): string {
  const expires = Math.floor((now + ttlMs) / 1000);
  const sig = signature(signingKeys(config)[0]!, mediaId, expires);
  return `${config.publicUrl}/api/media/${mediaId}?expires=${expires}&sig=${sig}`;
}

export type SignatureCheck = 'valid' | 'expired' | 'invalid';

export function checkMediaSignature(
  config: SigningConfig,
  mediaId: number,
  expires: number,
  sig: string,
  now = Date.now(),
): SignatureCheck {
  const matches = signingKeys(config).some((key) => constantTimeEqual(signature(key, mediaId, expires), sig));
  if (!matches) return 'invalid';
  return expires * 1000 < now ? 'expired' : 'valid';
}
