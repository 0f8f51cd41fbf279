// Intake of what a coexistence number's WhatsApp Business app reports, inside the webhook's one
// transaction: the owner's messages (echoes), the chat history the owner shared and the owner's
// contacts. These messages belong to their conversation but stand outside the line of live turns:
// no sequence, no workflow, never waiting, never answered. An echo pauses the bot there.
import type { Knex } from 'knex';
import type { BusinessAppMessage, ContactSync, HistoryChunk } from '../meta/business-app-payload.js';
import type { ParsedWebhook } from '../meta/webhook-payload.js';
import { ownerReplyPauseMs } from '../policy/bot-pause.js';
import { SYNC_WINDOW_MS } from './coexistence.js';
import { identityKey, resolveCustomer, type CustomerIdentity } from './customers.js';
import type { ItemRunner } from './intake.js';
import { activeNumberOwners, type NumberOwner } from './integrations.js';
import type { InboundStatus, OutboundStatus } from './messages.js';
import type { MessageInsert } from './tables.js';

export interface BusinessAppIntake {
  stored: number;
  duplicates: number;
  rejected: number;
}

export const hasBusinessAppItems = (parsed: ParsedWebhook) =>
  (parsed.echoes?.length ?? 0) + (parsed.historyMessages?.length ?? 0) + (parsed.historyChunks?.length ?? 0) > 0 ||
  (parsed.contactSyncs?.length ?? 0) > 0;

/** Meta's history_context.status of a message the business sent, as our outbound status. */
function historyOutboundStatus(status: string | null | undefined): OutboundStatus {
  const value = (status ?? '').toLowerCase();
  if (value === 'delivered' || value === 'read' || value === 'played' || value === 'sent') return value;
  if (value === 'error' || value === 'failed') return 'failed';
  return 'sent';
}

const HISTORY_INBOUND: InboundStatus = 'no_reply';
const INSERT_CHUNK = 500;

export async function intakeBusinessApp(
  trx: Knex.Transaction,
  parsed: ParsedWebhook,
  runner: ItemRunner,
): Promise<BusinessAppIntake> {
  const echoes = parsed.echoes ?? [];
  const history = parsed.historyMessages ?? [];
  const chunks = parsed.historyChunks ?? [];
  const contacts = parsed.contactSyncs ?? [];
  const result: BusinessAppIntake = { stored: 0, duplicates: 0, rejected: 0 };
  const numbers = [...new Set([...echoes, ...history, ...chunks, ...contacts].map((i) => i.phoneNumberId))];
  if (numbers.length === 0) return result;
  const owners = await activeNumberOwners(trx, numbers);

  // Customers and conversations, in sorted key order like the rest of intake.
  const messages = [...echoes, ...history].filter((m) => owners.has(m.phoneNumberId));
  const people = new Map<string, CustomerIdentity>();
  for (const m of [...messages, ...contacts.filter((c) => c.action === 'add' && owners.has(c.phoneNumberId))]) {
    const phone = 'customer' in m ? m.customer : m.phone;
    const identity = identityOf(owners.get(m.phoneNumberId)!, phone);
    people.set(identityKey(identity), identity);
  }
  const customerIds = new Map<string, number>();
  const sorted = [...people.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  result.rejected += await runner.eachItem(
    trx,
    sorted,
    async (sp, [key, identity]) => void customerIds.set(key, await resolveCustomer(sp, identity)),
    (item, reason) => runner.reject('customer', reason, { businessId: item[1].businessId }),
  );

  const conversations = new Map<string, { id: number; owner: NumberOwner }>();
  const conversationKey = (m: BusinessAppMessage) => {
    const customerId = customerIds.get(identityKey(identityOf(owners.get(m.phoneNumberId)!, m.customer)));
    return customerId === undefined ? null : `${m.phoneNumberId}\u0001${String(customerId).padStart(20, '0')}`;
  };
  const keys = [...new Set(messages.map(conversationKey).filter((k): k is string => k !== null))].sort();
  result.rejected += await runner.eachItem(
    trx,
    keys,
    async (sp, key) => {
      const [phoneNumberId, customerId] = key.split('\u0001') as [string, string];
      const owner = owners.get(phoneNumberId)!;
      // No sequence is taken: these messages are not in the line of turns.
      const answer = await sp.raw(
        `INSERT INTO conversations (business_id, integration_id, phone_number_id, customer_id, last_sequence)
         VALUES (?, ?::uuid, ?, ?::bigint, 0)
         ON CONFLICT (phone_number_id, customer_id) WHERE merged_into IS NULL
         DO UPDATE SET updated_at = now()
         RETURNING id`,
        [owner.businessId, owner.integrationId, phoneNumberId, Number(customerId)],
      );
      conversations.set(key, { id: (answer.rows as Array<{ id: number }>)[0]!.id, owner });
    },
    (key, reason) => runner.reject('conversation', reason, { phoneNumberId: key.split('\u0001')[0] }),
  );

  const fromHistory = new Set(history);
  const rowsToInsert = messages.flatMap((m) => {
    const key = conversationKey(m);
    const conversation = key === null ? undefined : conversations.get(key);
    if (!conversation) return [];
    const imported = fromHistory.has(m);
    const status: InboundStatus | OutboundStatus =
      m.direction === 'inbound' ? HISTORY_INBOUND : imported ? historyOutboundStatus(m.historyStatus) : 'sent';
    return [
      {
        message: m,
        conversationId: conversation.id,
        owner: conversation.owner,
        row: {
          direction: m.direction,
          wamid: m.wamid,
          integration_id: conversation.owner.integrationId,
          business_id: conversation.owner.businessId,
          phone_number_id: m.phoneNumberId,
          customer_wa_id: m.customer,
          customer_id: Number(key!.split('\u0001')[1]),
          conversation_id: conversation.id,
          sequence: null,
          type: m.type,
          body: m.text,
          content: m.content,
          sent_at: new Date(m.sentAt),
          status,
          error: m.direction === 'inbound' ? { reason: 'history' } : null,
          origin: imported ? 'history' : 'business_app',
        } satisfies MessageInsert,
      },
    ];
  });
  type Pending = (typeof rowsToInsert)[number];
  const batches: Pending[][] = [];
  for (let i = 0; i < rowsToInsert.length; i += INSERT_CHUNK) batches.push(rowsToInsert.slice(i, i + INSERT_CHUNK));
  const insertBatch = async (sp: Knex.Transaction, batch: Pending[]) => {
    const inserted = await sp('messages')
      .insert(batch.map((p) => p.row))
      .onConflict(sp.raw('(wamid) WHERE wamid IS NOT NULL'))
      .ignore()
      .returning('id');
    result.stored += inserted.length;
  };
  for (const batch of batches) {
    let refusedBatch = false;
    await runner.eachItem(trx, [batch], insertBatch, async () => void (refusedBatch = true));
    // A batch PostgreSQL refused: each of its messages on its own, the refused ones kept as rejected.
    if (refusedBatch)
      result.rejected += await runner.eachItem(
        trx,
        batch,
        (sp, item) => insertBatch(sp, [item]),
        (item, reason) => runner.reject('business_app_message', reason, item.message.content),
      );
  }
  result.duplicates = rowsToInsert.length - result.stored - result.rejected;

  // The owner answered in the app: the bot steps back in that conversation for a while.
  const pauses = new Map<number, Date>();
  for (const item of rowsToInsert) {
    if (item.row.origin !== 'business_app') continue;
    const pauseMs = ownerReplyPauseMs(item.owner.settings);
    const until = new Date(item.message.sentAt + pauseMs);
    const current = pauses.get(item.conversationId);
    if (!current || current < until) pauses.set(item.conversationId, until);
  }
  for (const [conversationId, until] of [...pauses.entries()].sort(([a], [b]) => a - b)) {
    await trx('conversations')
      .where({ id: conversationId })
      .update({
        bot_paused_until: trx.raw('GREATEST(COALESCE(bot_paused_until, ?::timestamptz), ?::timestamptz)', [
          until,
          until,
        ]),
        updated_at: new Date(),
      });
  }

  for (const chunk of chunks) {
    const owner = owners.get(chunk.phoneNumberId);
    if (owner) await recordHistoryChunk(trx, owner.rowId, chunk);
  }
  result.rejected += await runner.eachItem(
    trx,
    contacts.filter((c) => owners.has(c.phoneNumberId)),
    async (sp, contact) => applyContact(sp, owners.get(contact.phoneNumberId)!, contact, customerIds),
    (contact, reason) => runner.reject('contact', reason, { action: contact.action }),
  );
  const contactNumbers = new Set(contacts.map((c) => owners.get(c.phoneNumberId)?.rowId).filter(Boolean));
  for (const rowId of contactNumbers) await touchSync(trx, rowId!, 'smb_app_state_sync', 'completed');
  return result;
}

function identityOf(owner: NumberOwner, phone: string): CustomerIdentity {
  return { businessId: owner.businessId, phone, bsuid: null, parentBsuid: null, username: null, name: null };
}

/** The contact's name as the owner saved it; a removal forgets the name and keeps the customer and their messages. */
async function applyContact(
  trx: Knex.Transaction,
  owner: NumberOwner,
  contact: ContactSync,
  customerIds: Map<string, number>,
): Promise<void> {
  if (contact.action === 'remove') {
    await trx('customers')
      .where({ business_id: owner.businessId, phone: contact.phone })
      .update({ contact_name: null, updated_at: new Date() });
    return;
  }
  const id = customerIds.get(identityKey(identityOf(owner, contact.phone)));
  if (id === undefined) return;
  await trx('customers')
    .where({ id })
    .update({ contact_name: contact.fullName ?? contact.firstName, updated_at: new Date() });
}

/** A history chunk moves the history sync forward (progress 100: complete); errors mean the owner declined. */
async function recordHistoryChunk(trx: Knex.Transaction, rowId: string, chunk: HistoryChunk): Promise<void> {
  const now = new Date();
  if (chunk.errors && chunk.errors.length > 0) {
    const first = chunk.errors[0]!;
    await touchSync(trx, rowId, 'history', 'declined', `${first.code ?? ''} ${first.title ?? first.message ?? ''}`);
    return;
  }
  await ensureSync(trx, rowId, 'history', now);
  await trx('business_app_syncs')
    .where({ phone_number_row_id: rowId, sync_type: 'history' })
    .whereNotIn('state', ['declined', 'completed'])
    .update({
      state: (chunk.progress ?? 0) >= 100 ? 'completed' : 'receiving',
      progress: trx.raw('GREATEST(COALESCE(progress, 0), ?::int)', [chunk.progress ?? 0]),
      phase: trx.raw('GREATEST(COALESCE(phase, 0), ?::int)', [chunk.phase ?? 0]),
      last_received_at: now,
      ...((chunk.progress ?? 0) >= 100 ? { completed_at: now } : {}),
      updated_at: now,
    });
}

/** A sync Meta reports on that we never asked for (or asked before this row existed) gets its row. */
async function ensureSync(trx: Knex.Transaction, rowId: string, syncType: string, now: Date): Promise<void> {
  await trx.raw(
    `INSERT INTO business_app_syncs (phone_number_row_id, sync_type, state, deadline_at)
     SELECT n.id, ?, 'requested', COALESCE(n.coexistence_onboarded_at, ?::timestamptz) + ?::int * interval '1 millisecond'
     FROM whatsapp_phone_numbers n WHERE n.id = ?::uuid
     ON CONFLICT (phone_number_row_id, sync_type) DO NOTHING`,
    [syncType, now, SYNC_WINDOW_MS, rowId],
  );
}

async function touchSync(
  trx: Knex.Transaction,
  rowId: string,
  syncType: 'history' | 'smb_app_state_sync',
  state: 'completed' | 'declined',
  error?: string,
): Promise<void> {
  const now = new Date();
  await ensureSync(trx, rowId, syncType, now);
  const sync = trx('business_app_syncs').where({ phone_number_row_id: rowId, sync_type: syncType });
  await sync.clone().update({ last_received_at: now, updated_at: now });
  await sync
    .clone()
    .whereNotIn('state', ['declined', 'completed'])
    .update({ state, completed_at: now, ...(error ? { last_error: error.trim().slice(0, 500) } : {}) });
}
