// The kind of an integration's token, from what Meta's debug_token says about it, and what token
// care does with each kind. debug_token's `type` is USER, SYSTEM_USER, PAGE or APP; it reports the
// Business Integration System User tokens of Facebook Login for Business (Embedded Signup) as
// SYSTEM_USER, like any system-user token
// (https://developers.facebook.com/docs/whatsapp/permissions, "Checking for granted permissions").
// What sets them apart is `expires_at`: 0 for the business token that never expires, a date for
// the 60-day token a configuration issues with set_token_expires_in_60_days
// (https://developers.facebook.com/docs/business-management-apis/system-users/install-apps-and-generate-tokens).

export type TokenKind = 'user' | 'system_user' | 'business_integration' | 'page' | 'app' | 'unknown';

/** How token care keeps each kind alive. */
export type TokenRenewal =
  /** fb_exchange_token: a short-lived user token becomes a long-lived one (about 60 days), once. */
  | 'exchange'
  /** fb_exchange_token with set_token_expires_in_60_days=true before it expires: 60 more days. */
  | 'refresh_60_days'
  /** Never expires: only checked. */
  | 'none';

export function tokenKindOf(type: string | null | undefined, expiresAt: Date | null): TokenKind {
  switch (type) {
    case 'USER':
      return 'user';
    case 'SYSTEM_USER':
      return expiresAt === null ? 'business_integration' : 'system_user';
    case 'PAGE':
      return 'page';
    case 'APP':
      return 'app';
    default:
      return 'unknown';
  }
}

export function renewalOf(kind: TokenKind, expiresAt: Date | null): TokenRenewal {
  if (expiresAt === null) return 'none';
  return kind === 'system_user' ? 'refresh_60_days' : 'exchange';
}
