// Inputs and results of the message activities.
export type InboundDecision =
  | {
      action: 'stop';
      messageId: number;
      reason: 'ignored' | 'already_handled' | 'needs_reauth' | 'outside_24h_window' | 'no_reply_needed';
    }
  | {
      action: 'reply';
      messageId: number;
      integrationId: string;
      businessId: string;
      responder: 'rules' | 'http';
      autoReplyText: string;
    };

export interface SendReplyInput {
  inboundId: number;
  integrationId: string;
  phoneNumberId: string;
  to: string;
  text: string;
  replyTo: string;
  responder: string;
}

export type SendOutcome =
  /** unrecorded: Meta accepted the reply but PostgreSQL was away; the workflow must record it. */
  | { outcome: 'replied'; wamid: string; unrecorded?: { replyId: number; inboundId: number } }
  | { outcome: 'unanswered'; reason: string }
  /** Not this message's turn (an earlier one of the conversation is being answered, or an earlier
   * attempt's outcome is still unknown): the workflow waits and asks again. */
  | { outcome: 'wait'; reason: 'earlier_message' | 'outcome_unknown' }
  | { outcome: 'failed'; reason: string };
