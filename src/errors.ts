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
