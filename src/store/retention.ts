// Retention: what the sweep deletes (or, for message text, clears), table by table, one bounded
// batch per statement. Each batch picks the oldest rows past the cutoff with FOR UPDATE SKIP
// LOCKED, so it never waits on intake or a running workflow and never holds a long lock; the
// cutoff is PostgreSQL's clock. Running a batch again after it finished changes nothing.
import type { RetentionKind } from '../config.js';
import type { Db } from '../db.js';

/** Statuses of a message still in flight: waiting for its turn, or a send not settled yet. */
const IN_FLIGHT = `('received', 'pending', 'sending', 'unknown')`;

/** Rows of the pacer and the messaging-limit window: kept as long as the rule that reads them needs. */
type Housekeeping = 'housekeeping';

interface StepDefinition {
  kind: RetentionKind | Housekeeping;
  table: string;
  /** The columns that identify a row (the primary key). */
  key: string[];
  /** The row's time column the age is measured from. */
  time: string;
  /** Further conditions on the candidate row (alias `x`): rows still in use are never picked. */
  where?: string;
  /** Instead of deleting the row, this SET clause (message text). */
  set?: string;
  /** Days for housekeeping steps, which have no setting. */
  fixedDays?: number;
}

const TEXT_KEPT = 'x.body IS NOT NULL OR x.original_body IS NOT NULL OR x.content IS NOT NULL';

/** A table swept by age: rows whose `time` is older than the kind's days, by `id` unless told. */
function aged(
  kind: StepDefinition['kind'],
  table: string,
  time: string,
  more: Partial<StepDefinition> = {},
): StepDefinition {
  return { kind, table, key: ['id'], time, ...more };
}

const STEPS = {
  // Media goes first: its objects are deleted before its rows (agedMediaBatch), and a message with
  // media waits for it (below), so no object outlives its row.
  media: aged('media', 'media', 'created_at'),
  'messages.text': aged('message_text', 'messages', 'created_at', {
    where: `(${TEXT_KEPT}) AND x.status NOT IN ${IN_FLIGHT}`,
    set: 'body = NULL, original_body = NULL, content = NULL',
  }),
  // Deleting a message deletes its replies and its turns (foreign keys): none of them may be in use.
  messages: aged('messages', 'messages', 'created_at', {
    where: `x.status NOT IN ${IN_FLIGHT}
      AND NOT EXISTS (SELECT 1 FROM messages r WHERE r.in_reply_to = x.id AND r.status IN ${IN_FLIGHT})
      AND NOT EXISTS (SELECT 1 FROM turns t WHERE t.state = 'open'
                      AND (t.head_message_id = x.id OR t.reply_to_message_id = x.id))
      AND NOT EXISTS (SELECT 1 FROM workflow_starts w WHERE w.message_id = x.id AND w.done_at IS NULL)
      AND NOT EXISTS (SELECT 1 FROM media m WHERE m.message_id = x.id)`,
  }),
  workflow_starts: aged('messages', 'workflow_starts', 'done_at'),
  message_statuses: aged('statuses', 'message_statuses', 'received_at', { key: ['wamid', 'status'] }),
  account_events: aged('account_events', 'account_events', 'received_at'),
  template_events: aged('account_events', 'template_events', 'received_at'),
  webhook_errors: aged('account_events', 'webhook_errors', 'received_at'),
  phone_number_registration_attempts: aged('account_events', 'phone_number_registration_attempts', 'attempted_at'),
  // Measured from expiry: a state is kept for its setting after it can no longer be used.
  oauth_states: aged('oauth_states', 'oauth_states', 'expires_at'),
  connect_tickets: aged('oauth_states', 'connect_tickets', 'expires_at', { key: ['ticket_hash'] }),
  signup_events: aged('signup_events', 'signup_events', 'created_at'),
  connect_attempts: aged('signup_events', 'connect_attempts', 'finished_at', { key: ['workflow_id'] }),
  rejected_items: aged('rejected_items', 'rejected_items', 'received_at'),
  // A recipient's pacing row whose slot is long free is the same as no row (the pacer forgets them too).
  send_pacing: aged('housekeeping', 'send_pacing', 'next_slot_at', {
    key: ['phone_number_id', 'recipient'],
    where: `x.recipient <> ''`,
    fixedDays: 1,
  }),
  // The messaging limit counts recipients over Meta's moving 24 hours.
  messaging_limit_recipients: aged('housekeeping', 'messaging_limit_recipients', 'claimed_at', {
    key: ['portfolio_key', 'recipient_key'],
    fixedDays: 2,
  }),
  self_checks: aged('housekeeping', 'self_checks', 'checked_at', { fixedDays: 7 }),
} satisfies Record<string, StepDefinition>;

export type RetentionStepName = keyof typeof STEPS;

export interface RetentionStep {
  step: RetentionStepName;
  kind: RetentionKind | Housekeeping;
  table: string;
}

function daysOf(definition: StepDefinition, days: Record<RetentionKind, number | null>): number | null {
  return definition.kind === 'housekeeping' ? (definition.fixedDays ?? null) : days[definition.kind];
}

/** The steps of one sweep, in order: every table whose kind is not kept forever. */
export function retentionPlan(days: Record<RetentionKind, number | null>): RetentionStep[] {
  return (Object.entries(STEPS) as Array<[RetentionStepName, StepDefinition]>)
    .filter(([, definition]) => daysOf(definition, days) !== null)
    .map(([step, definition]) => ({ step, kind: definition.kind, table: definition.table }));
}

/**
 * The batch is picked first (a materialized CTE on the time column's index) and joined back by
 * primary key: `key IN (subquery)` lets PostgreSQL hash-join the whole table against the batch.
 */
function statement(definition: StepDefinition): string {
  const { table, key, time } = definition;
  const batch =
    `WITH batch AS MATERIALIZED (SELECT ${key.map((c) => `x.${c}`).join(', ')} FROM ${table} x ` +
    `WHERE x.${time} < now() - make_interval(days => ?)` +
    (definition.where ? ` AND ${definition.where}` : '') +
    ` ORDER BY x.${time} LIMIT ? FOR UPDATE SKIP LOCKED) `;
  const match = key.map((c) => `t.${c} = batch.${c}`).join(' AND ');
  return definition.set
    ? `${batch}UPDATE ${table} t SET ${definition.set} FROM batch WHERE ${match}`
    : `${batch}DELETE FROM ${table} t USING batch WHERE ${match}`;
}

/**
 * One batch of a step: at most `limit` rows older than the kind's setting deleted (or cleared),
 * answering how many. A kind kept forever deletes nothing; media goes through agedMediaBatch.
 */
export async function runRetentionBatch(
  db: Db,
  step: RetentionStepName,
  days: Record<RetentionKind, number | null>,
  limit: number,
): Promise<number> {
  const definition = STEPS[step];
  const age = daysOf(definition, days);
  if (age === null || step === 'media') return 0;
  const result = await db.raw<{ rowCount: number | null }>(statement(definition), [age, limit]);
  return result.rowCount ?? 0;
}

/**
 * One batch of media rows older than the media setting, with their storage keys: the caller
 * deletes the objects, then the rows (deleteMediaRows). Rows still being fetched are left.
 */
export async function agedMediaBatch(
  db: Db,
  days: Record<RetentionKind, number | null>,
  limit: number,
): Promise<Array<{ id: number; storageKey: string | null }>> {
  if (days.media === null) return [];
  const rows: Array<{ id: number; storage_key: string | null }> = await db('media')
    .where('created_at', '<', db.raw(`now() - make_interval(days => ?)`, [days.media]))
    .whereNot({ state: 'pending' })
    .orderBy('created_at')
    .limit(limit)
    .select('id', 'storage_key');
  return rows.map((r) => ({ id: Number(r.id), storageKey: r.storage_key }));
}

export async function deleteMediaRows(db: Db, ids: number[]): Promise<number> {
  return ids.length ? db('media').whereIn('id', ids).delete() : 0;
}
