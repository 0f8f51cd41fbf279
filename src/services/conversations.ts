// Conversations as the business's people see them: the list (newest activity first), one
// conversation with its messages and their statuses, and the handoff that lets a person take it
// over from the bot. Every answer lists its fields explicitly; no token or internal id beyond what
// GET /messages and the send views already show.
import type { Db } from '../db.js';
import { InvalidError, NotFoundError } from '../errors.js';
import { botResumesAt, echoPauseUntil, inAgentMode } from '../policy/bot-pause.js';
import {
  customerOf,
  handOff,
  listConversations,
  readConversation,
  release,
  DEFAULT_HANDOFF_MS,
  MAX_HANDOFF_MS,
  type ConversationFilter,
  type Handoff,
} from '../store/conversations.js';
import { originOf } from '../store/messages.js';
import type { ConversationRow, CustomerRow, MessageRow, MessageStatusRow } from '../store/tables.js';

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

function conversationView(conversation: ConversationRow, customer: CustomerRow, now: Date): ConversationView {
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

export async function listConversationViews(
  db: Db,
  businessId: string,
  filter: ConversationFilter,
): Promise<{ conversations: ConversationSummary[]; nextBefore: number | null }> {
  const rows = await listConversations(db, businessId, { ...filter, limit: filter.limit + 1 });
  const now = new Date();
  const page = rows.slice(0, filter.limit);
  return {
    conversations: page.map(({ conversation, customer, last }) => ({
      ...conversationView(conversation, customer, now),
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
    nextBefore: rows.length > filter.limit ? (page.at(-1)?.last?.id ?? null) : null,
  };
}

export const conversationNotFound = () =>
  new NotFoundError('conversation_not_found', 'This business has no conversation with that id.');

export async function conversationDetail(
  db: Db,
  businessId: string,
  id: number,
  page: { limit: number; before?: number | undefined },
): Promise<ConversationView & { messages: ConversationMessageView[]; nextBefore: number | null }> {
  const found = await readConversation(db, businessId, id, page);
  if (!found) throw conversationNotFound();
  const byWamid = new Map<string, MessageStatusRow[]>();
  for (const status of found.statuses) byWamid.set(status.wamid, [...(byWamid.get(status.wamid) ?? []), status]);
  return {
    ...conversationView(found.conversation, found.customer, new Date()),
    messages: found.messages.map((m) => messageView(m, m.wamid ? (byWamid.get(m.wamid) ?? []) : [])),
    nextBefore: found.more ? (found.messages[0]?.id ?? null) : null,
  };
}

/** A person takes the conversation over: the bot stays silent until release or expiry. */
export async function takeOver(
  db: Db,
  businessId: string,
  id: number,
  handoff: Omit<Handoff, 'expiresAt'> & { expiresAt?: Date | undefined },
): Promise<ConversationView> {
  const now = new Date();
  const expiresAt = handoff.expiresAt ?? new Date(now.getTime() + DEFAULT_HANDOFF_MS);
  if (expiresAt.getTime() <= now.getTime() || expiresAt.getTime() > now.getTime() + MAX_HANDOFF_MS)
    throw new InvalidError('invalid_request', 'expiresAt must be in the future, at most 30 days away.');
  const row = await handOff(db, businessId, id, { ...handoff, expiresAt }, now);
  if (!row) throw conversationNotFound();
  const customer = await customerOf(db, row);
  return conversationView(row, customer, now);
}

/** The bot answers the conversation again (an owner's echo pause still runs to its end). */
export async function giveBack(db: Db, businessId: string, id: number, agentId: string): Promise<ConversationView> {
  const row = await release(db, businessId, id, agentId);
  if (!row) throw conversationNotFound();
  const customer = await customerOf(db, row);
  return conversationView(row, customer, new Date());
}
