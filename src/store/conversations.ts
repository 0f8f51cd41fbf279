// Conversations as people run them: one bot-pause model for every cause. `mode` is `agent` while a
// person holds the conversation (a handoff, until release or its expiry); `bot_paused_until` is set
// by the owner's echoes on a coexistence number. The bot answers only when neither holds.
import type { Knex } from 'knex';
import type { Db } from '../db.js';
import type { ConversationRow, CustomerRow, MessageRow, MessageStatusRow } from './tables.js';

type Tx = Db | Knex.Transaction;

/** SQL for "in agent mode now" over the conversations alias `c`. */
const AGENT_MODE_SQL = `(c.mode = 'agent' AND (c.handoff_expires_at IS NULL OR c.handoff_expires_at > now()))`;

async function findConversation(db: Tx, businessId: string, id: number): Promise<ConversationRow | undefined> {
  return db('conversations').where({ id, business_id: businessId }).first();
}

export async function customerOf(db: Tx, conversation: ConversationRow): Promise<CustomerRow> {
  return (await db('customers').where({ id: conversation.customer_id }).first())!;
}

export interface Handoff {
  /** The person who takes over; null when the AI brain handed the conversation on, to whoever comes. */
  agentId: string | null;
  note: string | null;
  expiresAt: Date;
}

/** A handoff lasts this long unless it names its own expiry. */
export const DEFAULT_HANDOFF_MS = 24 * 3600 * 1000;
/** The longest a handoff may last. */
export const MAX_HANDOFF_MS = 30 * 24 * 3600 * 1000;

/** Hands the conversation to a person (or to another one); answers the row after, or undefined. */
export async function handOff(
  db: Tx,
  businessId: string,
  id: number,
  handoff: Handoff,
  now = new Date(),
): Promise<ConversationRow | undefined> {
  const run = async (trx: Tx) => {
    const [row] = await trx('conversations')
      .where({ id, business_id: businessId })
      .whereNull('merged_into')
      .update({
        mode: 'agent',
        handoff_agent_id: handoff.agentId,
        handoff_note: handoff.note,
        handoff_at: now,
        handoff_expires_at: handoff.expiresAt,
        updated_at: now,
      })
      .returning('*');
    if (!row) return undefined;
    await trx('conversation_events').insert({
      conversation_id: id,
      business_id: businessId,
      kind: 'handoff',
      agent_id: handoff.agentId,
      expires_at: handoff.expiresAt,
      created_at: now,
    });
    return row;
  };
  // Inside the caller's transaction when it has one (the brain's handoff, with its turn).
  return (db as Knex.Transaction).isTransaction ? run(db) : (db as Db).transaction(run);
}

/**
 * Gives the conversation back to the bot. An owner's echo pause is the owner's own and runs to its
 * end. Releasing a conversation the bot already holds changes nothing and records nothing.
 */
export async function release(
  db: Db,
  businessId: string,
  id: number,
  agentId: string,
  now = new Date(),
): Promise<ConversationRow | undefined> {
  return db.transaction(async (trx) => {
    const current = await trx('conversations').where({ id, business_id: businessId }).forUpdate().first();
    if (!current || current.mode === 'bot') return current;
    const [row] = await trx('conversations')
      .where({ id })
      .update({
        mode: 'bot',
        handoff_agent_id: null,
        handoff_note: null,
        handoff_at: null,
        handoff_expires_at: null,
        updated_at: now,
      })
      .returning('*');
    await trx('conversation_events').insert({
      conversation_id: id,
      business_id: businessId,
      kind: 'release',
      agent_id: agentId,
      created_at: now,
    });
    return row;
  });
}

export interface ConversationListRow {
  conversation: ConversationRow;
  customer: CustomerRow;
  last: Pick<MessageRow, 'id' | 'direction' | 'type' | 'body' | 'status' | 'created_at'> | null;
}

export interface ConversationFilter {
  limit: number;
  /** The cursor: conversations whose newest message is older than this message id. */
  before?: number | undefined;
  mode?: 'bot' | 'agent' | undefined;
  /** Conversations whose newest message is the customer's (nobody answered since). */
  unanswered?: boolean | undefined;
}

/** The business's conversations, the one with the newest message first. */
export async function listConversations(
  db: Db,
  businessId: string,
  filter: ConversationFilter,
): Promise<ConversationListRow[]> {
  // The newest message that counts as activity: a send that failed changes nothing for the customer.
  const last = db('messages as m')
    .whereRaw('m.conversation_id = c.id')
    .whereRaw(`NOT (m.direction = 'outbound' AND m.status = 'failed')`)
    .orderBy('m.id', 'desc')
    .limit(1)
    .select('m.id', 'm.direction', 'm.type', 'm.body', 'm.status', 'm.created_at');
  const query = db('conversations as c')
    .joinRaw(`CROSS JOIN LATERAL (${last.toQuery()}) l`)
    .join('customers as u', 'u.id', 'c.customer_id')
    .where({ 'c.business_id': businessId })
    .whereNull('c.merged_into')
    .orderBy('l.id', 'desc')
    .limit(filter.limit)
    .select(
      db.raw('row_to_json(c) AS conversation'),
      db.raw('row_to_json(u) AS customer'),
      db.raw('row_to_json(l) AS last'),
    );
  if (filter.before !== undefined) query.andWhere('l.id', '<', filter.before);
  if (filter.mode === 'agent') query.whereRaw(AGENT_MODE_SQL);
  if (filter.mode === 'bot') query.whereRaw(`NOT ${AGENT_MODE_SQL}`);
  if (filter.unanswered === true) query.where('l.direction', 'inbound');
  if (filter.unanswered === false) query.where('l.direction', 'outbound');
  const rows = (await query) as Array<{
    conversation: Record<string, unknown>;
    customer: Record<string, unknown>;
    last: Record<string, unknown>;
  }>;
  return rows.map((r) => ({
    conversation: withDates(r.conversation) as unknown as ConversationRow,
    customer: withDates(r.customer) as unknown as CustomerRow,
    last: withDates(r.last) as unknown as ConversationListRow['last'],
  }));
}

const DATE_COLUMNS = new Set([
  'created_at',
  'updated_at',
  'head_since',
  'bot_paused_until',
  'handoff_at',
  'handoff_expires_at',
  'marketing_preference_at',
]);

/** row_to_json gives timestamps as strings: back to Dates, like knex's own rows. */
function withDates(row: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(row).map(([k, v]) => [k, DATE_COLUMNS.has(k) && typeof v === 'string' ? new Date(v) : v]),
  );
}

export interface ConversationDetail {
  conversation: ConversationRow;
  customer: CustomerRow;
  /** Oldest first. */
  messages: MessageRow[];
  statuses: MessageStatusRow[];
  /** Older messages exist before the first one listed. */
  more: boolean;
}

/** One conversation of the business with its newest `limit` messages (before the cursor) in order. */
export async function readConversation(
  db: Db,
  businessId: string,
  id: number,
  page: { limit: number; before?: number | undefined },
): Promise<ConversationDetail | undefined> {
  const conversation = await findConversation(db, businessId, id);
  if (!conversation) return undefined;
  const query = db('messages')
    .where({ conversation_id: id, business_id: businessId })
    .orderBy('id', 'desc')
    .limit(page.limit + 1);
  if (page.before !== undefined) query.andWhere('id', '<', page.before);
  const [customer, rows] = await Promise.all([db('customers').where({ id: conversation.customer_id }).first(), query]);
  const messages = rows.slice(0, page.limit).reverse();
  const wamids = messages.filter((m) => m.direction === 'outbound' && m.wamid).map((m) => m.wamid!);
  const statuses = wamids.length
    ? await db('message_statuses')
        .whereIn('wamid', wamids)
        .orderBy('occurred_at')
        .orderByRaw(`array_position(ARRAY['sent', 'delivered', 'read', 'played', 'failed'], status)`)
    : [];
  return { conversation, customer: customer!, messages, statuses, more: rows.length > page.limit };
}

export interface SendTarget {
  phoneNumberId: string;
  phone: string | null;
  bsuid: string | null;
}

const targetKey = (phoneNumberId: string, address: string) => `${phoneNumberId}\u0001${address}`;

/**
 * The conversations outbound sends to these customers from these numbers belong to, in one query:
 * look one up with `conversationFor`. A customer who never wrote to the number has none.
 */
export async function conversationsOf(
  db: Tx,
  businessId: string,
  targets: SendTarget[],
): Promise<(target: SendTarget) => { conversationId: number; customerId: number } | undefined> {
  const numbers = [...new Set(targets.map((t) => t.phoneNumberId))];
  const phones = [...new Set(targets.flatMap((t) => (t.phone ? [t.phone] : [])))];
  const bsuids = [...new Set(targets.flatMap((t) => (t.bsuid ? [t.bsuid] : [])))];
  const found = new Map<string, { conversationId: number; customerId: number }>();
  if (numbers.length > 0 && phones.length + bsuids.length > 0) {
    const rows: Array<
      Pick<ConversationRow, 'id' | 'customer_id' | 'phone_number_id'> & Pick<CustomerRow, 'phone' | 'bsuid'>
    > = await db('conversations as c')
      .join('customers as u', 'u.id', 'c.customer_id')
      .where({ 'c.business_id': businessId })
      .whereIn('c.phone_number_id', numbers)
      .whereNull('c.merged_into')
      .andWhere((q) => {
        if (phones.length) q.orWhereIn('u.phone', phones);
        if (bsuids.length) q.orWhereIn('u.bsuid', bsuids);
      })
      .select('c.id', 'c.customer_id', 'c.phone_number_id', 'u.phone', 'u.bsuid');
    for (const row of rows) {
      const value = { conversationId: row.id, customerId: row.customer_id };
      if (row.phone) found.set(targetKey(row.phone_number_id, row.phone), value);
      if (row.bsuid) found.set(targetKey(row.phone_number_id, row.bsuid), value);
    }
  }
  return (target) => found.get(targetKey(target.phoneNumberId, target.phone ?? target.bsuid ?? ''));
}
