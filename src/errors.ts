// Stable, machine-readable error codes of the connect flow (callback redirects, popup answers,
// status), with the sentence a person sees. The codes are part of the API: never rename one.
export const CONNECT_ERRORS = {
  invalid_state: 'This connection link is invalid, expired or was already used. Please start again.',
  access_denied: 'The connection was cancelled on Meta’s page.',
  code_used: 'This authorization was already used. Please start again.',
  code_expired: 'The authorization expired before it could be used. Please start again.',
  no_whatsapp_account:
    'No WhatsApp Business account with a phone number was shared. Please start again and select one.',
  permission_denied: 'Meta did not grant the permissions WhatsApp needs. Please start again and allow them.',
  number_in_use: 'A selected phone number is already connected to another business.',
  meta_unavailable: 'Meta is not answering right now. Please try again in a few minutes.',
  session_mismatch: 'This connection was started in another browser. Please start again from your dashboard.',
  internal_error: 'Something went wrong on our side. Please try again.',
} as const;

export type ConnectErrorCode = keyof typeof CONNECT_ERRORS;

export function isConnectErrorCode(value: unknown): value is ConnectErrorCode {
  return typeof value === 'string' && Object.hasOwn(CONNECT_ERRORS, value);
}

/**
 * Stable codes of a number's Cloud API registration (status `registration.code`, and the answers of
 * the registration and PIN routes), with the sentence a person sees. Never rename one.
 */
export const REGISTRATION_ERRORS = {
  // Meta's 133005: the PIN given does not match the number's two-step verification PIN.
  pin_mismatch:
    'The PIN does not match this number’s two-step verification PIN. Enter the PIN set for the number (or reset it in WhatsApp Manager) and try again.',
  // Meta's 133016: ten register or deregister calls per number in 72 hours.
  registration_rate_limited:
    'Meta blocked registration of this number for now: too many register attempts in 72 hours. Try again after the time shown.',
  // Meta's 133010: the number is not registered, so it cannot send.
  number_not_registered:
    'This number is not registered on the WhatsApp Cloud API, so it cannot send. Register it again.',
  registration_budget_spent:
    'This number used its registration attempts for now (Meta allows 10 in 72 hours). Try again after the time shown.',
  needs_pin: 'Registering this number needs its six-digit two-step verification PIN. Enter it or generate one.',
  coexistence: 'This number stays on the WhatsApp Business app (coexistence) and is never registered here.',
  registration_not_needed: 'This number is already registered on the WhatsApp Cloud API.',
  registration_blocked:
    'Meta reports this number as banned, deleted, migrated or on the On-Premises API; it cannot be registered here.',
  needs_verification: 'Meta has not verified this phone number yet. Verify it in WhatsApp Manager, then try again.',
  registration_failed: 'Meta refused to register this number. Check the number in WhatsApp Manager and try again.',
  meta_unavailable: 'Meta is not answering right now. Please try again in a few minutes.',
  number_not_found: 'No connected phone number with this id.',
} as const;

export type RegistrationErrorCode = keyof typeof REGISTRATION_ERRORS;

/**
 * What a refusal is, in the product's terms; the HTTP layer answers each kind with one status
 * (src/http/errors.ts). Services throw these, never HTTP errors.
 */
export type DomainErrorKind =
  /** The request itself is wrong: a value out of range, a choice that cannot be made. */
  | 'invalid'
  /** The caller may not do this (Meta's permissions included). */
  | 'forbidden'
  /** Nothing of the business's has that id or name. */
  | 'not_found'
  /** It exists, but its state refuses this now: not connected, already there, needs re-auth. */
  | 'conflict'
  /** Too many attempts for now; `retryAfterSeconds` says when one may pass. */
  | 'rate_limited'
  /** A dependency (Meta) does not answer: the same request may succeed later. */
  | 'unavailable'
  /** Meta answered and refused, for a reason the caller cannot fix by changing the request. */
  | 'upstream_refused';

/** A refusal callers act on: a kind, a stable snake_case code and the sentence a person sees. */
export class DomainError extends Error {
  override name = 'DomainError';
  /** When trying again may succeed (rate limits, an unavailable dependency). */
  readonly retryAfterSeconds: number | undefined;
  constructor(
    readonly kind: DomainErrorKind,
    readonly code: string,
    message: string,
    options: { retryAfterSeconds?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}
