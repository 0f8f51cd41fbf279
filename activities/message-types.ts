// Inputs and results of the message activities.
export type InboundDecision =
  | { action: 'stop'; messageId: number; reason: 'ignored' | 'already_handled' | 'needs_reauth' | 'outside_24h_window' | 'no_reply_needed' }
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
  | { outcome: 'replied'; wamid: string }
  | { outcome: 'unanswered'; reason: string }
  | { outcome: 'failed'; reason: string };
