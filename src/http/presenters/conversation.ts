// Conversations as the business's people see them, every field listed: no token or internal id
// beyond what GET /messages and the send views already show.
import type { ConversationPage, ConversationWithCustomer } from '../../services/conversations.js';
import { botResumesAt, echoPauseUntil, inAgentMode } from '../../policy/bot-pause.js';
import type { ConversationDetail } from '../../store/conversations.js';
import { originOf } from '../../store/messages.js';
import type { ConversationRow, CustomerRow, MessageRow, MessageStatusRow } from '../../store/tables.js';

export interface CustomerView {
  id: number;
  phone: string | null;
  bsuid: string | null;
  username: string | null;
  /** The name on the customer's WhatsApp profile. */
  name: string | null;
  /** The name the owner saved for the contact in the WhatsApp Business app. */
  contactName: string | null;
}

export interface ConversationView {
  id: number;
  phoneNumberId: string;
  customer: CustomerView;
  /** `agent` while a person holds the conversation (until release or expiry), else `bot`. */
  mode: 'bot' | 'agent';
  handoff: { agentId: string | null; note: string | null; at: string | null; expiresAt: string | null } | null;
  /** An owner's reply from the WhatsApp Business app pauses the bot until then (null: no such pause). */
  botPausedUntil: string | null;
  /** When the bot answers again: null when it answers now. */
  botResumesAt: string | null;
  mergedInto: number | null;
}

export interface ConversationSummary extends ConversationView {
  /** The customer wrote last: nobody answered since. */
  unanswered: boolean;
  lastMessage: { id: number; direction: 'inbound' | 'outbound'; type: string; text: string | null; at: string } | null;
}

export interface ConversationMessageView {
  id: number;
  messageId: string | null;
  direction: 'inbound' | 'outbound';
  type: string;
  text: string | null;
  /** Inbound: how it ended (replied, covered, agent...); outbound: its delivery state. */
  status: string;
  origin: string;
  /** Outbound: the responder that wrote a bot reply. */
  responder: string | null;
  /** A person's send: who sent it. */
  agentId: string | null;
  sentAt: string;
  error: string | null;
  statuses: Array<{ status: string; timestamp: string }>;
}

const iso = (date: Date | null | undefined) => (date ? date.toISOString() : null);

function customerView(customer: CustomerRow): CustomerView {
  return {
    id: customer.id,
    phone: customer.phone,
    bsuid: customer.bsuid,
    username: customer.username,
    name: customer.profile_name,
    contactName: customer.contact_name ?? null,
  };
}

/** The conversation as it stands at `now`: who answers it, and until when. */
function stateView(conversation: ConversationRow, customer: CustomerRow, now: Date): ConversationView {
  const agent = inAgentMode(conversation, now);
  const echoPause = echoPauseUntil(conversation, now);
  const resumes = botResumesAt(conversation, now);
  return {
    id: conversation.id,
    phoneNumberId: conversation.phone_number_id,
    customer: customerView(customer),
    mode: agent ? 'agent' : 'bot',
    handoff: agent
      ? {
          agentId: conversation.handoff_agent_id,
          note: conversation.handoff_note,
          at: iso(conversation.handoff_at),
          expiresAt: iso(conversation.handoff_expires_at),
        }
      : null,
    botPausedUntil: iso(echoPause),
    botResumesAt: iso(resumes),
    mergedInto: conversation.merged_into,
  };
}

export function conversationView({ conversation, customer }: ConversationWithCustomer): ConversationView {
  return stateView(conversation, customer, new Date());
}

export function conversationPageView(page: ConversationPage): {
  conversations: ConversationSummary[];
  nextBefore: number | null;
} {
  const now = new Date();
  return {
    conversations: page.conversations.map(({ conversation, customer, last }) => ({
      ...stateView(conversation, customer, now),
      unanswered: last?.direction === 'inbound',
      lastMessage: last
        ? {
            id: last.id,
            direction: last.direction,
            type: last.type,
            text: last.body,
            at: last.created_at.toISOString(),
          }
        : null,
    })),
    nextBefore: page.nextBefore,
  };
}

function messageView(message: MessageRow, statuses: MessageStatusRow[]): ConversationMessageView {
  return {
    id: message.id,
    messageId: message.wamid,
    direction: message.direction,
    type: message.type,
    text: message.body,
    status: message.status,
    origin: originOf(message),
    responder: message.responder,
    agentId: message.agent_id,
    sentAt: message.sent_at.toISOString(),
    error: typeof message.error?.reason === 'string' ? message.error.reason : null,
    statuses: statuses.map((s) => ({ status: s.status, timestamp: s.occurred_at.toISOString() })),
  };
}

/** One conversation with a page of its messages (oldest first); `nextBefore` pages to older ones. */
export function conversationDetailView(
  detail: ConversationDetail,
): ConversationView & { messages: ConversationMessageView[]; nextBefore: number | null } {
  const byWamid = new Map<string, MessageStatusRow[]>();
  for (const status of detail.statuses) byWamid.set(status.wamid, [...(byWamid.get(status.wamid) ?? []), status]);
  return {
    ...stateView(detail.conversation, detail.customer, new Date()),
    messages: detail.messages.map((m) => messageView(m, m.wamid ? (byWamid.get(m.wamid) ?? []) : [])),
    nextBefore: detail.more ? (detail.messages[0]?.id ?? null) : null,
  };
}
