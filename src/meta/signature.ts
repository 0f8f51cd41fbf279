// Meta's webhook signature: X-Hub-Signature-256 = "sha256=" + hex HMAC-SHA256(raw body, app secret).
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-hub-signature-256';

export function signBody(body: Buffer | string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

const WELL_FORMED = /^sha256=[0-9a-f]{64}$/i;

/** Whether the header can be a signature at all: checked before the body is read. */
export function isWellFormedSignature(header: string | undefined): header is string {
  return header !== undefined && WELL_FORMED.test(header);
}

/**
 * Constant-time check of a signature header against the raw body, given whole or as the chunks it
 * arrived in (so a body whose signature fails is never copied into one buffer).
 */
export function verifySignature(
  body: Buffer | readonly Buffer[],
  header: string | undefined,
  secret: string | string[],
): boolean {
  if (!header || !header.startsWith('sha256=')) return false;
  const given = header.slice('sha256='.length);
  if (!/^[0-9a-f]{64}$/i.test(given)) return false;
  const digest = Buffer.from(given, 'hex');
  const chunks = Buffer.isBuffer(body) ? [body] : body;
  // Every secret is tried (an app-secret rotation accepts the previous one too), none skipped early.
  let ok = false;
  for (const s of Array.isArray(secret) ? secret : [secret]) {
    const hmac = createHmac('sha256', s);
    for (const chunk of chunks) hmac.update(chunk);
    if (timingSafeEqual(hmac.digest(), digest)) ok = true;
  }
  return ok;
}
