// Whether a customer's message gets an answer. Intake settles what the message itself decides (the
// 24-hour window, groups, notices, removed reactions, welcome requests); the workflow's first step
// settles what can change while it waits (the integration, and whether a reaction is to our own
// message). Both the current message path and the one kept for older executions ask here.
import type { InboundMessage } from '../meta/webhook-payload.js';
import type { InboundStatus } from '../store/messages.js';

/** Meta allows free-form replies only within 24 hours of the customer's message. */
const CUSTOMER_SERVICE_WINDOW_MS = 24 * 60 * 60 * 1000;
/** Message types that are notices or edits, never something a customer expects an answer to. */
const NO_REPLY_TYPES = new Set(['system', 'errors', 'ephemeral', 'request_welcome', 'unsupported', 'revoke', 'edit']);

export interface Decision {
  status: InboundStatus;
  error: Record<string, unknown> | null;
}

/**
 * The part of the decision the message (and, for a welcome request, whether the business set a
 * welcome text) settles, for a number that answers.
 */
export function messageDecision(
  message: Pick<InboundMessage, 'sentAt' | 'groupId' | 'type' | 'content'>,
  now: number,
  owner: { welcomeText?: boolean } = {},
): Decision {
  if (now - message.sentAt > CUSTOMER_SERVICE_WINDOW_MS)
    return { status: 'unanswered', error: { reason: 'outside_24h_window' } };
  // Written in a group: the reply would go to the customer alone, about a conversation they had
  // with others. Stored, never answered.
  if (message.groupId) return { status: 'no_reply', error: null };
  // A customer opening the chat for the first time is greeted only with the business's own welcome.
  if (message.type === 'request_welcome' && owner.welcomeText) return { status: 'received', error: null };
  if (NO_REPLY_TYPES.has(message.type)) return { status: 'no_reply', error: null };
  if (message.type === 'reaction' && !(message.content.reaction as { emoji?: unknown } | undefined)?.emoji)
    return { status: 'no_reply', error: null };
  return { status: 'received', error: null };
}

/** Why an accepted message is closed unanswered when its workflow begins, or null when it is answered. */
export async function answerBlocker(
  integration: { is_active: boolean; state: string } | null | undefined,
  message: { type: string; content: Record<string, unknown> | null },
  isOurMessage: (wamid: string) => Promise<boolean>,
): Promise<{
  status: 'unanswered' | 'no_reply';
  reason: 'integration_inactive' | 'needs_reauth' | 'no_reply_needed';
} | null> {
  if (!integration?.is_active) return { status: 'unanswered', reason: 'integration_inactive' };
  if (integration.state === 'needs_reauth') return { status: 'unanswered', reason: 'needs_reauth' };
  if (message.type === 'reaction') {
    const target = (message.content?.reaction as { message_id?: unknown } | undefined)?.message_id;
    // A reaction to one of our own messages needs no answer.
    if (typeof target === 'string' && (await isOurMessage(target)))
      return { status: 'no_reply', reason: 'no_reply_needed' };
  }
  return null;
}
