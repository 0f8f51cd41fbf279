// Meta's signed_request, as its data-deletion callback sends it: `<signature>.<payload>`, both
// base64url, the signature an HMAC-SHA256 of the payload part (as sent) under the app secret, the
// payload JSON with `algorithm` ("HMAC-SHA256"), `user_id` (the app-scoped id of the Facebook user)
// and `issued_at`.
// https://developers.facebook.com/docs/development/create-an-app/app-dashboard/data-deletion-callback
import { createHmac } from 'node:crypto';
import { z } from 'zod';
import { constantTimeEqual } from '../crypto.js';

export class SignedRequestError extends Error {
  override name = 'SignedRequestError';
}

const payloadSchema = z.looseObject({
  algorithm: z.string(),
  user_id: z
    .union([z.string(), z.number()])
    .transform(String)
    .pipe(z.string().regex(/^\d{1,32}$/)),
  issued_at: z.number().optional(),
});
export type SignedRequestPayload = z.infer<typeof payloadSchema>;

const BASE64URL = /^[A-Za-z0-9_-]+={0,2}$/;

/** The payload, once the signature matches one of the secrets (the app's, or the WhatsApp app's). */
export function parseSignedRequest(signedRequest: string, secrets: string[]): SignedRequestPayload {
  const dot = signedRequest.indexOf('.');
  const signaturePart = dot > 0 ? signedRequest.slice(0, dot) : '';
  const payloadPart = dot > 0 ? signedRequest.slice(dot + 1) : '';
  if (!BASE64URL.test(signaturePart) || !BASE64URL.test(payloadPart))
    throw new SignedRequestError('signed_request must be <signature>.<payload>, both base64url');
  const signature = Buffer.from(signaturePart, 'base64url');
  const valid = secrets
    .filter((secret) => secret !== '')
    .some((secret) => constantTimeEqual(signature, createHmac('sha256', secret).update(payloadPart).digest()));
  if (!valid) throw new SignedRequestError('the signature does not match the app secret');
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(payloadPart, 'base64url').toString('utf8'));
  } catch {
    throw new SignedRequestError('the payload is not JSON');
  }
  const parsed = payloadSchema.safeParse(json);
  if (!parsed.success) throw new SignedRequestError('the payload lacks algorithm or user_id');
  if (parsed.data.algorithm.toUpperCase() !== 'HMAC-SHA256')
    throw new SignedRequestError('the payload names an algorithm other than HMAC-SHA256');
  return parsed.data;
}

/** Makes a signed_request as Meta does (for tests). */
export function signRequest(secret: string, payload: Record<string, unknown>): string {
  const payloadPart = Buffer.from(JSON.stringify(payload)).toString('base64url');
  return `${createHmac('sha256', secret).update(payloadPart).digest('base64url')}.${payloadPart}`;
}
