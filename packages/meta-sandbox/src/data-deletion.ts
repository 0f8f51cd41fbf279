// What Meta posts to an app's Data Deletion Request URL when a person removes the app from their
// Facebook account: a form field `signed_request` signed with the app secret, whose payload names
// the app-scoped user id.
import { signedRequest } from './signing.js';

/** The form body Meta posts for this user (as `application/x-www-form-urlencoded`). */
export function dataDeletionRequest(appSecret: string, userId: string, now = Date.now()): URLSearchParams {
  const issuedAt = Math.floor(now / 1000);
  const signed = signedRequest(appSecret, {
    algorithm: 'HMAC-SHA256',
    expires: issuedAt + 3600,
    issued_at: issuedAt,
    user_id: userId,
  });
  return new URLSearchParams({ signed_request: signed });
}
