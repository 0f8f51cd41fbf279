// Conversations as the business's people see them: the list (newest activity first), one
// conversation with its messages and their statuses, and the handoff that lets a person take it
// over from the bot.
import type { Db } from '../db.js';
import { DomainError } from '../errors.js';
import {
  customerOf,
  handOff,
  listConversations,
  readConversation,
  release,
  DEFAULT_HANDOFF_MS,
  MAX_HANDOFF_MS,
  type ConversationDetail,
  type ConversationFilter,
  type ConversationListRow,
  type Handoff,
} from '../store/conversations.js';
import type { ConversationRow, CustomerRow } from '../store/tables.js';

export interface ConversationWithCustomer {
  conversation: ConversationRow;
  customer: CustomerRow;
}

/** One page of the list, newest activity first; `nextBefore` continues it. */
export interface ConversationPage {
  conversations: ConversationListRow[];
  nextBefore: number | null;
}

export async function listBusinessConversations(
  db: Db,
  businessId: string,
  filter: ConversationFilter,
): Promise<ConversationPage> {
  const rows = await listConversations(db, businessId, { ...filter, limit: filter.limit + 1 });
  const page = rows.slice(0, filter.limit);
  return {
    conversations: page,
    nextBefore: rows.length > filter.limit ? (page.at(-1)?.last?.id ?? null) : null,
  };
}

export const conversationNotFound = () =>
  new DomainError('not_found', 'conversation_not_found', 'This business has no conversation with that id.');

export async function conversationDetail(
  db: Db,
  businessId: string,
  id: number,
  page: { limit: number; before?: number | undefined },
): Promise<ConversationDetail> {
  const found = await readConversation(db, businessId, id, page);
  if (!found) throw conversationNotFound();
  return found;
}

/** A person takes the conversation over: the bot stays silent until release or expiry. */
export async function takeOver(
  db: Db,
  businessId: string,
  id: number,
  handoff: Omit<Handoff, 'expiresAt'> & { expiresAt?: Date | undefined },
): Promise<ConversationWithCustomer> {
  const now = new Date();
  const expiresAt = handoff.expiresAt ?? new Date(now.getTime() + DEFAULT_HANDOFF_MS);
  if (expiresAt.getTime() <= now.getTime() || expiresAt.getTime() > now.getTime() + MAX_HANDOFF_MS)
    throw new DomainError('invalid', 'invalid_request', 'expiresAt must be in the future, at most 30 days away.');
  const conversation = await handOff(db, businessId, id, { ...handoff, expiresAt }, now);
  if (!conversation) throw conversationNotFound();
  return { conversation, customer: await customerOf(db, conversation) };
}

/** The bot answers the conversation again (an owner's echo pause still runs to its end). */
export async function giveBack(
  db: Db,
  businessId: string,
  id: number,
  agentId: string,
): Promise<ConversationWithCustomer> {
  const conversation = await release(db, businessId, id, agentId);
  if (!conversation) throw conversationNotFound();
  return { conversation, customer: await customerOf(db, conversation) };
}
