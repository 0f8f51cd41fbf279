// Every failure type that activities and workflows throw and branch on, named once, and the
// failures built from them. Pure: imported by workflow code.
import { ApplicationFailure } from '@temporalio/common';
import type { ConnectErrorCode } from '../errors.js';

/** Failure types that activities and workflows throw and branch on (besides the connect's error codes). */
export const FailureType = {
  transient: 'GraphTransient',
  reauth: 'needs_reauth',
  permission: 'permission_denied',
  codeUsed: 'code_used',
  codeExpired: 'code_expired',
  windowClosed: 'window_closed',
  invalid: 'graph_invalid',
  paced: 'send_paced',
  integrationInactive: 'integration_inactive',
  responderNotConfigured: 'responder_not_configured',
  responderFailed: 'responder_failed',
  unstorableMessage: 'unstorable_message',
  tokenCheckFailed: 'token_check_failed',
} as const;
export type FailureTypeName = (typeof FailureType)[keyof typeof FailureType];

/** A failure no retry can mend, of a type a workflow or the connect's outcome reads. */
export function permanentFailure(type: FailureTypeName | ConnectErrorCode, message: string): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: true });
}

/** The business's HTTP responder failed; its error says whether another attempt may succeed. */
export function responderFailure(error: { message: string; retryable: boolean }): ApplicationFailure {
  return ApplicationFailure.create({
    type: FailureType.responderFailed,
    message: error.message,
    nonRetryable: !error.retryable,
  });
}

/** No HTTP responder is configured: no attempt can reach one. */
export function responderNotConfigured(): ApplicationFailure {
  return permanentFailure(FailureType.responderNotConfigured, 'REPLY_WEBHOOK_URL is not set');
}
