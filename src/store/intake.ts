// Intake: one PostgreSQL transaction per webhook POST. Inbound messages (unique wamid), statuses,
// identity changes and the workflow-start outbox rows commit together; each item runs under a
// SAVEPOINT, so an item PostgreSQL refuses is kept as rejected JSON and the rest commits.
// Conversations are locked in sorted key order and a deadlock retries the whole POST.
import type { Knex } from 'knex';
import { preparedQuery, type Db } from '../db.js';
import type { AccountEvent, InboundMessage, ParsedWebhook, StatusEvent } from '../meta/webhook-payload.js';
import { accountEventKey } from './account-events.js';
import { hasBusinessAppItems, intakeBusinessApp } from './business-app-intake.js';
import { applyIdentityChange, identityKey, resolveCustomer, type CustomerIdentity } from './customers.js';
import { activeNumberOwners, type NumberOwner } from './integrations.js';
import {
  applyEdit,
  lockWamid,
  markRevoked,
  outboundStatusesBelow,
  recordChangeError,
  type InboundStatus,
} from './messages.js';
import {
  FAST_PATH_GRACE_MS,
  insertStarts,
  PENDING_COLUMNS,
  rejectItem,
  type NewStart,
  type PendingStart,
} from './outbox.js';
import { requestTemplateSyncs, type TemplateSyncStart } from './template-catalogue.js';
import { hasTemplateItems, intakeTemplateItems } from './template-intake.js';
import type { MessageInsert } from './tables.js';
import { revokeWaiting } from './turns.js';
import { messageDecision, type Decision } from '../policy/reply-decision.js';

/** PostgreSQL error classes that refuse an item for its content: data (22), integrity (23), limits (54). */
const REFUSED = /^(22|23|54)/;
const RETRYABLE = new Set(['40P01', '40001', '23505']);
const MAX_ATTEMPTS = 5;

export interface IntakeNames {
  /** The deployment's base task queue, whose workers drain these rows. */
  taskQueue: string;
  messageWorkflowType: string;
  /** A message's workflow id is this prefix and the message's row id. */
  messageWorkflowIdPrefix: string;
  accountEventWorkflowType: string;
  accountEventWorkflowId(key: string): string;
  accountEventArgs(event: AccountEvent): unknown[];
  /** Starts an account's template sync when a webhook names a template the catalogue lacks. */
  templateSync?: TemplateSyncStart;
}

export interface IntakeResult {
  starts: PendingStart[];
  stored: number;
  duplicates: number;
  rejected: number;
  statuses: number;
}

const pgCode = (error: unknown) => String((error as { code?: unknown }).code ?? '');

/** Integration states whose messages are stored but never answered (the reason is the state). */
const UNANSWERED_STATES = ['needs_reauth'] as const;

/** The decision intake takes for a message: wait for a turn, or close at once. */
function intakeStatus(message: InboundMessage, owner: NumberOwner | undefined, now: number): Decision {
  if (!owner) return { status: 'ignored', error: { reason: 'no_active_integration' } };
  if ((UNANSWERED_STATES as readonly string[]).includes(owner.state))
    return { status: 'unanswered', error: { reason: owner.state } };
  if (owner.offboardedAt) return { status: 'unanswered', error: { reason: 'offboarded' } };
  return messageDecision(message, now, { welcomeText: Boolean(owner.settings?.welcomeText) });
}

const refused = (error: unknown) => REFUSED.test(pgCode(error)) && !RETRYABLE.has(pgCode(error));

/** Runs fn for every item: all under one SAVEPOINT first, then (if one is refused) each under its own. */
async function eachItem<T>(
  trx: Knex.Transaction,
  items: T[],
  fn: (sp: Knex.Transaction, item: T) => Promise<void>,
  reject: (item: T, reason: string) => Promise<void>,
): Promise<number> {
  if (items.length === 0) return 0;
  try {
    await trx.transaction(async (sp) => {
      for (const item of items) await fn(sp, item);
    });
    return 0;
  } catch (error) {
    if (!refused(error)) throw error;
  }
  let rejected = 0;
  for (const item of items) {
    try {
      await trx.transaction(async (sp) => fn(sp, item));
    } catch (error) {
      if (!refused(error)) throw error;
      await reject(item, `${pgCode(error)}: ${(error as Error).message}`.slice(0, 200));
      rejected += 1;
    }
  }
  return rejected;
}

/** Intake's item runner, handed to the parts of a delivery stored by other modules (business app, templates). */
export interface ItemRunner {
  eachItem: typeof eachItem;
  /** Keeps an item PostgreSQL refused (rejected_items), in the delivery's transaction. */
  reject: (kind: string, reason: string, item: unknown) => Promise<void>;
}

export async function intakeWebhook(db: Db, parsed: ParsedWebhook, names: IntakeNames): Promise<IntakeResult> {
  // The single statement stores one message or status and nothing else: a delivery that also moves
  // a customer, or a revoke that closes an earlier message, would lose that part there.
  // An edit changes an earlier message and Meta's change-level errors are rows of their own: both
  // take the general path too, as do template events and marketing preferences.
  const general =
    parsed.identityUpdates.length > 0 ||
    parsed.messages.some((m) => m.revokedWamid || m.edit) ||
    (parsed.changeErrors?.length ?? 0) > 0 ||
    hasBusinessAppItems(parsed) ||
    hasTemplateItems(parsed);
  const single = general ? null : await intakeInOneStatement(db, parsed, names);
  if (single) return single;
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.transaction((trx) => intakeOnce(trx, parsed, names));
    } catch (error) {
      if (!RETRYABLE.has(pgCode(error)) || attempt >= MAX_ATTEMPTS) throw error;
      await new Promise((resolve) => setTimeout(resolve, 5 * attempt + Math.random() * 20));
    }
  }
}

/**
 * The deliveries Meta sends most, one message or one status and nothing else, in one statement
 * (one round trip, its own transaction). Null when the delivery is not of that shape or the
 * statement did not settle it; it then wrote nothing that the general path would not write again
 * (a status row is idempotent), and the general path runs.
 */
async function intakeInOneStatement(db: Db, parsed: ParsedWebhook, names: IntakeNames): Promise<IntakeResult | null> {
  const { messages, statuses, accountEvents } = parsed;
  if (accountEvents.length > 0 || messages.length + statuses.length !== 1) return null;
  try {
    if (messages.length === 1) return await intakeOneMessage(db, messages[0]!, names);
    return await intakeOneStatus(db, statuses[0]!);
  } catch (error) {
    // Refused, deadlocked or raced: the general path handles each of these item by item.
    if (refused(error) || RETRYABLE.has(pgCode(error))) return null;
    throw error;
  }
}

/**
 * One message: owner, customer, conversation (reserving the sequence under its row lock), the
 * message and its outbox row, chained so each part writes only when the one before it did. It
 * applies to a known, answering number and a customer it needs no link or merge for: a phone or a
 * BSUID alone, both already on one row, or both new. Anything else (an identity change, an unknown
 * number, a row knowing only one of the two) finds no row at some step, writes nothing, and goes
 * the general way.
 */
async function intakeOneMessage(db: Db, message: InboundMessage, names: IntakeNames): Promise<IntakeResult | null> {
  const phone = message.from || null;
  const bsuid = message.fromUserId ?? null;
  if (message.identityChange || (!phone && !bsuid)) return null;
  // A welcome request's answer depends on the integration's settings, an edit changes another row:
  // neither fits this statement.
  if (message.type === 'request_welcome' || message.type === 'edit') return null;
  const decision = messageDecision(message, Date.now());
  const details = [message.parentUserId ?? null, message.username ?? null, message.contactName];
  // Both phone and BSUID: the row that links them, or a new one when neither is known yet (a row
  // knowing only one of them needs a link or a merge: the general path). One alone: an upsert.
  const customer =
    phone && bsuid
      ? `linked AS (
           UPDATE customers c SET parent_bsuid = COALESCE(?::text, c.parent_bsuid), username = COALESCE(?::text, c.username),
             profile_name = COALESCE(?::text, c.profile_name), updated_at = now()
           FROM owner o WHERE c.business_id = o.business_id AND c.bsuid = ?::text AND c.phone = ?::text
           RETURNING c.id
         ), created AS (
           INSERT INTO customers (business_id, parent_bsuid, username, profile_name, bsuid, phone)
           SELECT o.business_id, ?::text, ?::text, ?::text, ?::text, ?::text FROM owner o
           WHERE NOT EXISTS (SELECT 1 FROM customers c
                             WHERE c.business_id = o.business_id AND (c.bsuid = ?::text OR c.phone = ?::text))
           ON CONFLICT DO NOTHING
           RETURNING id
         ), customer AS (SELECT id FROM linked UNION ALL SELECT id FROM created)`
      : `customer AS (
           INSERT INTO customers (business_id, parent_bsuid, username, profile_name, bsuid, phone)
           SELECT o.business_id, ?::text, ?::text, ?::text, ?::text, ?::text FROM owner o
           ON CONFLICT (business_id, ${phone ? 'phone' : 'bsuid'}) WHERE ${phone ? 'phone' : 'bsuid'} IS NOT NULL
           DO UPDATE SET parent_bsuid = COALESCE(EXCLUDED.parent_bsuid, customers.parent_bsuid),
             username = COALESCE(EXCLUDED.username, customers.username),
             profile_name = COALESCE(EXCLUDED.profile_name, customers.profile_name), updated_at = now()
           RETURNING id
         )`;
  const customerParams =
    phone && bsuid ? [...details, bsuid, phone, ...details, bsuid, phone, bsuid, phone] : [...details, bsuid, phone];
  const [row] = await preparedQuery<{ matched: number; stored: number } & Partial<PendingStart>>(
    db,
    `WITH owner AS (
       SELECT i.id AS integration_id, i.business_id
       FROM whatsapp_phone_numbers n JOIN channel_integrations i ON i.id = n.integration_id
       WHERE n.phone_number_id = ? AND n.is_active AND i.is_active AND n.coexistence_offboarded_at IS NULL
         AND i.state NOT IN (${UNANSWERED_STATES.map(() => '?').join(', ')})
       LIMIT 1
     ), ${customer}, conversation AS (
       INSERT INTO conversations (business_id, integration_id, phone_number_id, customer_id, last_sequence)
       SELECT o.business_id, o.integration_id, ?::text, c.id, 1 FROM owner o, customer c
       ON CONFLICT (phone_number_id, customer_id) WHERE merged_into IS NULL
       DO UPDATE SET last_sequence = conversations.last_sequence + 1, integration_id = EXCLUDED.integration_id,
         business_id = EXCLUDED.business_id, updated_at = now()
       RETURNING id, customer_id, last_sequence
     ), message AS (
       INSERT INTO messages (direction, wamid, integration_id, business_id, phone_number_id, customer_wa_id,
         customer_name, customer_id, conversation_id, sequence, type, body, content, sent_at, status, error)
       SELECT 'inbound', ?::text, o.integration_id, o.business_id, ?::text, ?::text, ?::text, v.customer_id, v.id,
         v.last_sequence, ?::text, ?::text, ?::jsonb, ?::timestamptz, ?::text, ?::jsonb
       FROM owner o, conversation v
       ON CONFLICT (wamid) WHERE wamid IS NOT NULL DO NOTHING
       RETURNING id, status, business_id, integration_id
     ), start AS (
       INSERT INTO workflow_starts (workflow_type, workflow_id, task_queue, args, business_id, integration_id,
         message_id, available_at)
       SELECT ?::text, ?::text || m.id, ?::text, jsonb_build_array(m.id), m.business_id, m.integration_id, m.id,
         now() + ?::int * interval '1 millisecond'
       FROM message m WHERE m.status = 'received'
       ON CONFLICT (workflow_id) DO NOTHING
       RETURNING ${PENDING_COLUMNS.join(', ')}
     )
     SELECT (SELECT count(*) FROM conversation)::int AS matched, (SELECT count(*) FROM message)::int AS stored,
       ${PENDING_COLUMNS.map((c) => `s.${c}`).join(', ')}
     FROM (SELECT 1) one LEFT JOIN start s ON true`,
    [
      message.phoneNumberId,
      ...UNANSWERED_STATES,
      ...customerParams,
      message.phoneNumberId,
      message.wamid,
      message.phoneNumberId,
      phone,
      message.contactName,
      message.type,
      message.text,
      JSON.stringify(message.content),
      new Date(message.sentAt),
      decision.status,
      decision.error ? JSON.stringify(decision.error) : null,
      names.messageWorkflowType,
      names.messageWorkflowIdPrefix,
      names.taskQueue,
      FAST_PATH_GRACE_MS,
    ],
  );
  if (!row || row.matched === 0) return null;
  const starts = row.id == null ? [] : [Object.fromEntries(PENDING_COLUMNS.map((c) => [c, row[c]])) as PendingStart];
  return { starts, stored: row.stored, duplicates: 1 - row.stored, rejected: 0, statuses: 0 };
}

/**
 * One status for a send of ours, found by the row id we sent as its callback data. Locking that
 * row serialises this with recording the send's wamid (which locks it too), so one of the two sees
 * the other's write. Null when the status names no row of ours by that id and wamid.
 */
async function intakeOneStatus(db: Db, event: StatusEvent): Promise<IntakeResult | null> {
  const rowId = callbackRowId(event);
  if (rowId === null) return null;
  const below = outboundStatusesBelow(event.status);
  const [row] = await preparedQuery<{ moved: number; ours: boolean }>(
    db,
    `WITH recorded AS (
       INSERT INTO message_statuses (wamid, status, phone_number_id, recipient_id, recipient_user_id, callback_data,
         occurred_at, errors, pricing, conversation)
       VALUES (?, ?, ?, ?, ?, ?, ?::timestamptz, ?::jsonb, ?::jsonb, ?::jsonb)
       ON CONFLICT (wamid, status) DO NOTHING
     ), moved AS (
       UPDATE messages SET status = ?::text, wamid = ?::text, updated_at = now(),
         error = CASE WHEN ?::text = 'failed' THEN ?::jsonb ELSE error END
       WHERE id = ?::bigint AND direction = 'outbound' AND (wamid IS NULL OR wamid = ?::text)
         AND status IN (${below.map(() => '?').join(', ')})
       RETURNING id
     )
     SELECT (SELECT count(*) FROM moved)::int AS moved,
       EXISTS (SELECT 1 FROM messages WHERE id = ?::bigint AND direction = 'outbound' AND wamid = ?::text) AS ours`,
    [
      event.wamid,
      event.status,
      event.phoneNumberId,
      event.recipientId,
      event.recipientUserId ?? null,
      event.callbackData ?? null,
      new Date(event.occurredAt),
      event.errors ? JSON.stringify(event.errors) : null,
      event.pricing ? JSON.stringify(event.pricing) : null,
      event.conversation ? JSON.stringify(event.conversation) : null,
      event.status,
      event.wamid,
      event.status,
      JSON.stringify({ statuses: event.errors }),
      rowId,
      event.wamid,
      ...below,
      rowId,
      event.wamid,
    ],
  );
  if (!row || (row.moved === 0 && !row.ours)) return null;
  return { starts: [], stored: 0, duplicates: 0, rejected: 0, statuses: 1 };
}

const callbackRowId = (event: StatusEvent) =>
  event.callbackData && /^\d{1,15}$/.test(event.callbackData) ? Number(event.callbackData) : null;

async function intakeOnce(trx: Knex.Transaction, parsed: ParsedWebhook, names: IntakeNames): Promise<IntakeResult> {
  const now = Date.now();
  const result: IntakeResult = { starts: [], stored: 0, duplicates: 0, rejected: 0, statuses: 0 };
  const starts: NewStart[] = [];

  const numbers = [...new Set([...parsed.messages, ...parsed.identityUpdates].map((item) => item.phoneNumberId))];
  const owners = await activeNumberOwners(trx, numbers);

  if (parsed.messages.length > 0) {
    // Customers, in sorted key order.
    const identities = new Map<string, CustomerIdentity>();
    const identityOf = new Map<InboundMessage, string>();
    for (const message of parsed.messages) {
      const owner = owners.get(message.phoneNumberId);
      if (!owner) continue;
      const identity: CustomerIdentity = {
        businessId: owner.businessId,
        phone: message.from || null,
        bsuid: message.fromUserId ?? null,
        parentBsuid: message.parentUserId ?? null,
        username: message.username ?? null,
        name: message.contactName,
      };
      const key = identityKey(identity);
      identities.set(key, {
        ...identities.get(key),
        ...identity,
        name: identity.name ?? identities.get(key)?.name ?? null,
      });
      identityOf.set(message, key);
    }
    const customerIds = new Map<string, number>();
    const sortedIdentities = [...identities.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    result.rejected += await eachItem(
      trx,
      sortedIdentities,
      async (sp, [key, identity]) => void customerIds.set(key, await resolveCustomer(sp, identity)),
      async ([, identity], reason) => rejectItem(trx, 'customer', reason, { businessId: identity.businessId }),
    );

    // Conversations, upserted and locked in sorted (number, customer) order.
    const conversationKeys = new Map<string, { phoneNumberId: string; customerId: number; owner: NumberOwner }>();
    for (const message of parsed.messages) {
      const customerId = customerIds.get(identityOf.get(message) ?? '');
      const owner = owners.get(message.phoneNumberId);
      if (customerId === undefined || !owner) continue;
      conversationKeys.set(`${message.phoneNumberId}\u0001${String(customerId).padStart(20, '0')}`, {
        phoneNumberId: message.phoneNumberId,
        customerId,
        owner,
      });
    }
    // The upsert also reserves this POST's sequences: one statement takes the row lock and moves
    // the counter (a redelivered message's unused sequence leaves a harmless gap).
    const perConversation = new Map<string, number>();
    for (const message of parsed.messages) {
      const customerId = customerIds.get(identityOf.get(message) ?? '');
      if (customerId === undefined || !owners.has(message.phoneNumberId)) continue;
      const key = `${message.phoneNumberId}\u0001${customerId}`;
      perConversation.set(key, (perConversation.get(key) ?? 0) + 1);
    }
    const conversations = new Map<string, { id: number; next: number }>();
    const sortedKeys = [...conversationKeys.keys()].sort();
    if (sortedKeys.length > 0) {
      const values = sortedKeys.map((k) => {
        const c = conversationKeys.get(k)!;
        return [
          c.owner.businessId,
          c.owner.integrationId,
          c.phoneNumberId,
          c.customerId,
          perConversation.get(`${c.phoneNumberId}\u0001${c.customerId}`) ?? 0,
        ];
      });
      const result = await trx.raw(
        `INSERT INTO conversations (business_id, integration_id, phone_number_id, customer_id, last_sequence)
         VALUES ${values.map(() => '(?, ?::uuid, ?, ?::bigint, ?::bigint)').join(', ')}
         ON CONFLICT (phone_number_id, customer_id) WHERE merged_into IS NULL
         DO UPDATE SET last_sequence = conversations.last_sequence + EXCLUDED.last_sequence,
                       integration_id = EXCLUDED.integration_id, business_id = EXCLUDED.business_id, updated_at = now()
         RETURNING id, phone_number_id, customer_id, last_sequence`,
        values.flat(),
      );
      for (const row of result.rows as Array<{
        id: number;
        phone_number_id: string;
        customer_id: number;
        last_sequence: number;
      }>) {
        const key = `${row.phone_number_id}\u0001${row.customer_id}`;
        conversations.set(key, { id: row.id, next: row.last_sequence - (perConversation.get(key) ?? 0) });
      }
    }

    // Messages in array order: sequence = commit order.
    const pending: Array<{ message: InboundMessage; row: MessageInsert; owner: NumberOwner | undefined }> = [];
    for (const message of parsed.messages) {
      const owner = owners.get(message.phoneNumberId);
      const customerId = customerIds.get(identityOf.get(message) ?? '');
      const conversation =
        customerId === undefined ? undefined : conversations.get(`${message.phoneNumberId}\u0001${customerId}`);
      // A customer PostgreSQL refused leaves its message without a conversation: it cannot be answered.
      const decision =
        owner && !conversation
          ? { status: 'rejected' as const, error: { reason: 'customer_refused' } }
          : intakeStatus(message, owner, now);
      pending.push({
        message,
        owner,
        row: {
          direction: 'inbound',
          wamid: message.wamid,
          integration_id: owner?.integrationId ?? null,
          business_id: owner?.businessId ?? null,
          phone_number_id: message.phoneNumberId,
          customer_wa_id: message.from || null,
          customer_name: message.contactName,
          customer_id: customerId ?? null,
          conversation_id: conversation?.id ?? null,
          sequence: conversation ? ++conversation.next : null,
          type: message.type,
          body: message.text,
          content: message.content,
          sent_at: new Date(message.sentAt),
          status: decision.status,
          error: decision.error,
        },
      });
    }
    const inserted: Array<{
      id: number;
      status: InboundStatus;
      business_id: string | null;
      integration_id: string | null;
      conversation_id: number | null;
      message: InboundMessage;
    }> = [];
    const insertRows = async (sp: Knex.Transaction, items: typeof pending) => {
      const rows: Array<{
        id: number;
        wamid: string;
        status: InboundStatus;
        business_id: string | null;
        integration_id: string | null;
        conversation_id: number | null;
      }> = await sp('messages')
        .insert(items.map((i) => i.row))
        .onConflict(sp.raw('(wamid) WHERE wamid IS NOT NULL'))
        .ignore()
        .returning(['id', 'wamid', 'status', 'business_id', 'integration_id', 'conversation_id']);
      const byWamid = new Map(items.map((i) => [i.message.wamid, i.message]));
      for (const row of rows) inserted.push({ ...row, message: byWamid.get(row.wamid)! });
    };
    try {
      await trx.transaction((sp) => insertRows(sp, pending));
    } catch (error) {
      if (!refused(error)) throw error;
      result.rejected += await eachItem(
        trx,
        pending,
        (sp, item) => insertRows(sp, [item]),
        async (item, reason) => {
          await rejectItem(trx, 'message', reason, item.message.content);
        },
      );
    }
    result.stored = inserted.length;
    result.duplicates = parsed.messages.length - inserted.length - result.rejected;

    // A revoke in this delivery may close a message stored just before it: that one starts nothing.
    const revoked = new Set<number>();
    for (const row of inserted) {
      const original = row.message.revokedWamid;
      if (!original || row.conversation_id === null) continue;
      const conversationId = row.conversation_id;
      result.rejected += await eachItem(
        trx,
        [original],
        async (sp, wamid) => {
          const closed = await revokeWaiting(sp, conversationId, wamid);
          if (closed !== null) revoked.add(closed);
          await markRevoked(sp, conversationId, wamid, new Date(row.message.sentAt));
        },
        async (wamid, reason) => {
          await rejectItem(trx, 'revoke', reason, { original_message_id: wamid });
        },
      );
    }
    // An edit changes the text of the message it names (in the same conversation) and is itself
    // stored as a notice, never answered.
    for (const row of inserted) {
      const edit = row.message.edit;
      if (!edit || row.conversation_id === null) continue;
      const conversationId = row.conversation_id;
      result.rejected += await eachItem(
        trx,
        [edit],
        async (sp, e) => void (await applyEdit(sp, conversationId, e, new Date(row.message.sentAt))),
        async (e, reason) => {
          await rejectItem(trx, 'edit', reason, { original_message_id: e.originalWamid });
        },
      );
    }
    for (const row of inserted) {
      const change = row.message.identityChange;
      if (change && row.business_id) {
        const businessId = row.business_id;
        result.rejected += await eachItem(
          trx,
          [change],
          (sp, c) => applyIdentityChange(sp, businessId, c),
          async (c, reason) => {
            await rejectItem(trx, 'identity_change', reason, c);
          },
        );
      }
      if (row.status === 'received' && !revoked.has(row.id)) {
        starts.push({
          taskQueue: names.taskQueue,
          workflowType: names.messageWorkflowType,
          workflowId: `${names.messageWorkflowIdPrefix}${row.id}`,
          args: [row.id],
          businessId: row.business_id,
          integrationId: row.integration_id,
          messageId: row.id,
        });
      }
    }
  }

  // After this POST's messages, as a system message's change is: a message in the same delivery
  // under the old BSUID lands on the row first, and the row then moves.
  for (const update of parsed.identityUpdates) {
    const owner = owners.get(update.phoneNumberId);
    if (!owner) continue;
    result.rejected += await eachItem(
      trx,
      [update.change],
      (sp, c) => applyIdentityChange(sp, owner.businessId, c),
      async (c, reason) => {
        await rejectItem(trx, 'identity_change', reason, c);
      },
    );
  }

  if (parsed.statuses.length > 0) {
    const sorted = [...parsed.statuses].sort((a, b) => (a.wamid < b.wamid ? -1 : a.wamid > b.wamid ? 1 : 0));
    result.rejected += await eachItem(trx, sorted, recordStatus, async (status, reason) =>
      rejectItem(trx, 'status', reason, status),
    );
    result.statuses = sorted.length;
  }

  result.rejected += await eachItem(trx, parsed.changeErrors ?? [], recordChangeError, async (item, reason) =>
    rejectItem(trx, 'change_error', reason, item),
  );

  const runner: ItemRunner = { eachItem, reject: (kind, reason, item) => rejectItem(trx, kind, reason, item) };
  if (hasBusinessAppItems(parsed)) {
    const app = await intakeBusinessApp(trx, parsed, runner);
    result.stored += app.stored;
    result.duplicates += app.duplicates;
    result.rejected += app.rejected;
  }

  // Template events and marketing preferences: stored, never answered; a template the catalogue
  // lacks asks for its account's sync.
  let templateSyncs: PendingStart[] = [];
  if (hasTemplateItems(parsed)) {
    const templates = await intakeTemplateItems(trx, parsed, runner);
    result.stored += templates.stored;
    result.duplicates += templates.duplicates;
    result.rejected += templates.rejected;
    if (names.templateSync && templates.syncWabaIds.length > 0)
      templateSyncs = await requestTemplateSyncs(trx, { wabaIds: templates.syncWabaIds }, names.templateSync);
  }

  for (const event of parsed.accountEvents) {
    starts.push({
      taskQueue: names.taskQueue,
      workflowType: names.accountEventWorkflowType,
      workflowId: names.accountEventWorkflowId(accountEventKey(event)),
      args: names.accountEventArgs(event),
      businessId: null,
      integrationId: null,
      messageId: null,
    });
  }
  result.starts = [...(await insertStarts(trx, starts)), ...templateSyncs];
  return result;
}

/**
 * Records a status once and moves our outbound row forward. The row is found by Meta's id or, while
 * our row does not know it yet (the send's outcome unknown), by the callback data we sent: our row id.
 */
async function recordStatus(trx: Knex.Transaction, event: StatusEvent): Promise<void> {
  await lockWamid(trx, event.wamid);
  await trx('message_statuses')
    .insert({
      wamid: event.wamid,
      status: event.status,
      phone_number_id: event.phoneNumberId,
      recipient_id: event.recipientId,
      recipient_user_id: event.recipientUserId ?? null,
      callback_data: event.callbackData ?? null,
      occurred_at: new Date(event.occurredAt),
      errors: event.errors ? JSON.stringify(event.errors) : null,
      pricing: event.pricing ? JSON.stringify(event.pricing) : null,
      conversation: event.conversation ? JSON.stringify(event.conversation) : null,
    })
    .onConflict(['wamid', 'status'])
    .ignore();
  const rowId = callbackRowId(event);
  const update = {
    status: event.status,
    ...(event.status === 'failed' ? { error: { statuses: event.errors } } : {}),
    updated_at: new Date(),
  };
  const moved = await trx('messages')
    .where({ wamid: event.wamid, direction: 'outbound' })
    .whereIn('status', outboundStatusesBelow(event.status))
    .update(update);
  if (moved > 0 || rowId === null) return;
  // Settles an unknown outcome: Meta echoes our row id, so this status is ours.
  await trx('messages')
    .where({ id: rowId, direction: 'outbound' })
    .whereNull('wamid')
    .update({ ...update, wamid: event.wamid, status: event.status === 'failed' ? 'failed' : event.status });
}
