// How Meta signs what it sends to an app, both under the app secret: a webhook's
// `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`, and the `signed_request` of its
// data-deletion callback, `<signature>.<payload>` (both base64url, the signature an HMAC-SHA256 of
// the payload part as sent).
import { createHmac } from 'node:crypto';

export function webhookSignature(body: Buffer | string, appSecret: string): string {
  return `sha256=${createHmac('sha256', appSecret).update(body).digest('hex')}`;
}

export function signedRequest(appSecret: string, payload: Record<string, unknown>): string {
  const payloadPart = Buffer.from(JSON.stringify(payload)).toString('base64url');
  return `${createHmac('sha256', appSecret).update(payloadPart).digest('base64url')}.${payloadPart}`;
}
