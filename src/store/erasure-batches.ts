// The deletes of an erasure, in bounded batches. Each batch is one statement and its count in the
// audit, committed together, so a retried batch neither deletes twice nor counts twice. Steps run in
// an order that leaves nothing unreachable: statuses while their messages still name them, turns
// before their messages, the customer (or the integration, for a business) last.
//
// A customer is every customer row of the business that knows one of the erasure's phones or
// BSUIDs, and everything that names one of them: messages both ways (echoes, imported history,
// edits and revokes are message rows too), sends to a phone that has no customer row yet, statuses
// (also those still waiting for their message), turns, conversations, workflow-start rows, the
// pacer's and the messaging limit's rows (keyed by a hash of the recipient), rejected webhook
// items and Meta's error texts that quote one of them.
import type { Knex } from 'knex';
import type { Keyring } from '../crypto.js';
import type { Db } from '../db.js';
import { connectWorkflowIdPrefix } from '../temporal/names.js';
import { countErased, readTarget, storeTarget, type CustomerTarget } from './erasures.js';
import { recipientKey } from './pacer.js';
import type { ErasureRow } from './tables.js';

interface Fragment {
  sql: string;
  bindings: unknown[];
}

interface Step {
  /** The audit's name for what it deletes. */
  kind: string;
  table: string;
  /** A column that names one row (ctid for tables keyed by several columns). */
  key: string;
  /** A query answering the keys of the rows to delete (each branch of a UNION ALL on an index). */
  select: Fragment;
  /** The rows name stored objects (media): those go first, through eraseMediaBatch. */
  objects?: true;
}

export interface ErasureScopeRows {
  businessId: string;
  steps: Step[];
}

const sql = (text: string, ...bindings: unknown[]): Fragment => ({ sql: text, bindings });
/** Each part a query of its own, so that every one can use its own index (an OR of them could not). */
const union = (...parts: Fragment[]): Fragment => ({
  sql: parts.map((p) => p.sql).join(' UNION ALL '),
  bindings: parts.flatMap((p) => p.bindings),
});
const within = (prefix: string, inner: Fragment): Fragment => ({
  sql: `${prefix} (${inner.sql})`,
  bindings: inner.bindings,
});
/** A step whose rows are the table's rows matching `where`. */
const rowsOf = (kind: string, table: string, key: string, where: Fragment): Step => ({
  kind,
  table,
  key,
  select: { sql: `SELECT ${key} FROM ${table} WHERE ${where.sql}`, bindings: where.bindings },
});

/** Phone number ids of every integration the business ever had. */
async function numbersOf(db: Db, businessId: string): Promise<string[]> {
  const rows = await db('whatsapp_phone_numbers as n')
    .join('channel_integrations as i', 'i.id', 'n.integration_id')
    .where('i.business_id', businessId)
    .distinct('n.phone_number_id');
  return rows.map((r: { phone_number_id: string }) => r.phone_number_id);
}

/** Of the business's numbers or accounts, those no other business has (a number can move). */
async function onlyOurs(db: Db, businessId: string, table: 'numbers' | 'accounts'): Promise<string[]> {
  const [name, column] =
    table === 'numbers'
      ? (['whatsapp_phone_numbers', 'phone_number_id'] as const)
      : (['whatsapp_business_accounts', 'waba_id'] as const);
  const result = await db.raw(
    `SELECT DISTINCT x.${column} AS id FROM ${name} x JOIN channel_integrations i ON i.id = x.integration_id
     WHERE i.business_id = ? AND NOT EXISTS (
       SELECT 1 FROM ${name} y JOIN channel_integrations j ON j.id = y.integration_id
       WHERE y.${column} = x.${column} AND j.business_id <> ?)`,
    [businessId, businessId],
  );
  return (result.rows as Array<{ id: string }>).map((r) => r.id);
}

/** The customer's identifiers grown by every customer row that knows one of them (kept encrypted). */
async function expandTarget(db: Db, keyring: Keyring, row: ErasureRow): Promise<CustomerTarget> {
  const target = readTarget(keyring, row) ?? { phones: [], bsuids: [], customerIds: [] };
  const customers = await db('customers')
    .where({ business_id: row.business_id })
    .andWhere(
      (q) =>
        void q.whereIn('phone', target.phones).orWhereIn('bsuid', target.bsuids).orWhereIn('id', target.customerIds),
    )
    .select('id', 'phone', 'bsuid');
  const grown: CustomerTarget = {
    phones: [...new Set([...target.phones, ...customers.flatMap((c) => (c.phone ? [c.phone] : []))])],
    bsuids: [...new Set([...target.bsuids, ...customers.flatMap((c) => (c.bsuid ? [c.bsuid] : []))])],
    customerIds: [...new Set([...target.customerIds, ...customers.map((c) => c.id)])],
  };
  if (
    grown.phones.length !== target.phones.length ||
    grown.bsuids.length !== target.bsuids.length ||
    grown.customerIds.length !== target.customerIds.length
  )
    await storeTarget(db, keyring, row.id, grown);
  return grown;
}

function customerSteps(businessId: string, target: CustomerTarget, numbers: string[]): Step[] {
  const { phones, bsuids, customerIds } = target;
  const addresses = [...phones, ...bsuids];
  // The customer's messages: by customer row, by phone on the business's numbers (sends to a phone
  // that never wrote in, and messages stored without an owner), by BSUID where no row links them,
  // and the business's API sends addressed to one of them.
  const messageIds = union(
    sql('SELECT id FROM messages WHERE customer_id = ANY(?::bigint[])', customerIds),
    sql(
      `SELECT id FROM messages WHERE phone_number_id = ANY(?::text[]) AND customer_wa_id = ANY(?::text[])
         AND (business_id = ? OR business_id IS NULL)`,
      numbers,
      phones,
      businessId,
    ),
    sql(
      `SELECT id FROM messages WHERE phone_number_id = ANY(?::text[]) AND business_id IS NULL
         AND content->>'from_user_id' = ANY(?::text[])`,
      numbers,
      bsuids,
    ),
    sql(
      `SELECT id FROM messages WHERE business_id = ? AND idempotency_key_hash IS NOT NULL
         AND content->'request'->>'to' = ANY(?::text[])`,
      businessId,
      addresses,
    ),
  );
  const conversationIds = sql(
    'SELECT id FROM conversations WHERE business_id = ? AND customer_id = ANY(?::bigint[])',
    businessId,
    customerIds,
  );
  const keys = addresses.map(recipientKey);
  return [
    {
      kind: 'statuses',
      table: 'message_statuses',
      key: 'ctid',
      select: union(
        within('SELECT s.ctid FROM message_statuses s JOIN messages m ON m.wamid = s.wamid WHERE m.id IN', messageIds),
        // Statuses that never found their message (or whose message is gone) name the recipient.
        sql(
          'SELECT ctid FROM message_statuses WHERE phone_number_id = ANY(?::text[]) AND recipient_id = ANY(?::text[])',
          numbers,
          phones,
        ),
        sql(
          'SELECT ctid FROM message_statuses WHERE phone_number_id = ANY(?::text[]) AND recipient_user_id = ANY(?::text[])',
          numbers,
          bsuids,
        ),
      ),
    },
    rowsOf('turns', 'turns', 'id', within('conversation_id IN', conversationIds)),
    rowsOf('workflowStarts', 'workflow_starts', 'id', within('message_id IN', messageIds)),
    { ...rowsOf('media', 'media', 'id', within('message_id IN', messageIds)), objects: true },
    { kind: 'messages', table: 'messages', key: 'id', select: messageIds },
    { kind: 'conversations', table: 'conversations', key: 'id', select: conversationIds },
    // A webhook item PostgreSQL refused was never attributed to a business: every one that quotes
    // the customer goes.
    rowsOf(
      'rejectedItems',
      'rejected_items',
      'id',
      sql('EXISTS (SELECT 1 FROM unnest(?::text[]) a WHERE position(a IN raw) > 0)', addresses),
    ),
    rowsOf(
      'webhookErrors',
      'webhook_errors',
      'id',
      sql(
        `phone_number_id = ANY(?::text[])
           AND EXISTS (SELECT 1 FROM unnest(?::text[]) a WHERE position(a IN concat_ws(' ', title, message, details)) > 0)`,
        numbers,
        addresses,
      ),
    ),
    // The pacer's and the messaging limit's rows of the business's own numbers only.
    rowsOf(
      'pacing',
      'send_pacing',
      'ctid',
      sql('phone_number_id = ANY(?::text[]) AND recipient = ANY(?::text[])', numbers, keys),
    ),
    rowsOf(
      'messagingLimit',
      'messaging_limit_recipients',
      'ctid',
      sql('phone_number_id = ANY(?::text[]) AND recipient_key = ANY(?::text[])', numbers, keys),
    ),
    {
      kind: 'customers',
      table: 'customers',
      key: 'id',
      select: union(
        sql('SELECT id FROM customers WHERE id = ANY(?::bigint[]) AND business_id = ?', customerIds, businessId),
        sql('SELECT id FROM customers WHERE business_id = ? AND phone = ANY(?::text[])', businessId, phones),
        sql('SELECT id FROM customers WHERE business_id = ? AND bsuid = ANY(?::text[])', businessId, bsuids),
      ),
    },
  ];
}

function businessSteps(
  businessId: string,
  ids: { integrations: string[]; numbers: string[]; wabas: string[] },
): Step[] {
  const { integrations, numbers, wabas } = ids;
  // Every message of the business carries its id; those stored for its numbers without an owner do not.
  const messageIds = union(
    sql('SELECT id FROM messages WHERE business_id = ?', businessId),
    sql('SELECT id FROM messages WHERE phone_number_id = ANY(?::text[]) AND business_id IS NULL', numbers),
  );
  const ofBusiness = sql('business_id = ?', businessId);
  const ofNumbers = sql('phone_number_id = ANY(?::text[])', numbers);
  const ofAccounts = sql('waba_id = ANY(?::text[])', wabas);
  const ofIntegrations = sql('integration_id = ANY(?::uuid[])', integrations);
  return [
    {
      kind: 'statuses',
      table: 'message_statuses',
      key: 'ctid',
      select: union(
        sql('SELECT ctid FROM message_statuses WHERE phone_number_id = ANY(?::text[])', numbers),
        within('SELECT s.ctid FROM message_statuses s JOIN messages m ON m.wamid = s.wamid WHERE m.id IN', messageIds),
      ),
    },
    rowsOf(
      'turns',
      'turns',
      'id',
      within('conversation_id IN', sql('SELECT id FROM conversations WHERE business_id = ?', businessId)),
    ),
    rowsOf('workflowStarts', 'workflow_starts', 'id', ofBusiness),
    { ...rowsOf('media', 'media', 'id', within('message_id IN', messageIds)), objects: true },
    { kind: 'messages', table: 'messages', key: 'id', select: messageIds },
    rowsOf('conversations', 'conversations', 'id', ofBusiness),
    rowsOf('customers', 'customers', 'id', ofBusiness),
    // Customers PostgreSQL refused at intake are kept as {businessId}.
    rowsOf(
      'rejectedItems',
      'rejected_items',
      'id',
      sql(`kind = 'customer' AND position(? IN raw) > 0`, JSON.stringify(businessId)),
    ),
    rowsOf('webhookErrors', 'webhook_errors', 'id', ofNumbers),
    rowsOf('pacing', 'send_pacing', 'ctid', ofNumbers),
    rowsOf(
      'messagingLimit',
      'messaging_limit_recipients',
      'ctid',
      sql(
        'portfolio_key = ANY(?::text[]) OR phone_number_id = ANY(?::text[])',
        integrations.map((id) => `integration:${id}`),
        numbers,
      ),
    ),
    rowsOf('registrationAttempts', 'phone_number_registration_attempts', 'id', ofNumbers),
    rowsOf('templateEvents', 'template_events', 'id', ofAccounts),
    rowsOf('templates', 'message_templates', 'id', ofAccounts),
    rowsOf('accountEvents', 'account_events', 'id', ofAccounts),
    rowsOf('signupEvents', 'signup_events', 'id', ofBusiness),
    rowsOf('oauthStates', 'oauth_states', 'id', ofBusiness),
    rowsOf('connectTickets', 'connect_tickets', 'ticket_hash', ofBusiness),
    rowsOf(
      'stagedSecrets',
      'token_staging',
      'ctid',
      sql('starts_with(connect_id, ?)', connectWorkflowIdPrefix(businessId)),
    ),
    rowsOf('connectAttempts', 'connect_attempts', 'workflow_id', ofBusiness),
    rowsOf('phoneNumbers', 'whatsapp_phone_numbers', 'id', ofIntegrations),
    rowsOf('accounts', 'whatsapp_business_accounts', 'id', ofIntegrations),
    rowsOf('integrations', 'channel_integrations', 'id', ofBusiness),
  ];
}

/** What the erasure deletes, read now (a customer's identifiers grow as their rows show more). */
export async function erasureScope(db: Db, keyring: Keyring, row: ErasureRow): Promise<ErasureScopeRows> {
  if (row.scope === 'customer') {
    const [target, numbers] = await Promise.all([expandTarget(db, keyring, row), numbersOf(db, row.business_id)]);
    return { businessId: row.business_id, steps: customerSteps(row.business_id, target, numbers) };
  }
  const [integrations, numbers, wabas] = await Promise.all([
    db('channel_integrations').where({ business_id: row.business_id }).pluck('id'),
    onlyOurs(db, row.business_id, 'numbers'),
    onlyOurs(db, row.business_id, 'accounts'),
  ]);
  return { businessId: row.business_id, steps: businessSteps(row.business_id, { integrations, numbers, wabas }) };
}

/** Deletes up to `limit` rows of one step and counts them, in one transaction; answers how many. */
export async function eraseBatch(db: Db, erasureId: string, step: Step, limit: number): Promise<number> {
  return db.transaction(async (trx: Knex.Transaction) => {
    const result = await trx.raw(
      `DELETE FROM ${step.table} WHERE ${step.key} = ANY(ARRAY(SELECT k FROM (${step.select.sql}) AS keys (k) LIMIT ?))`,
      [...step.select.bindings, limit] as Knex.RawBinding[],
    );
    const deleted = (result as { rowCount: number | null }).rowCount ?? 0;
    await countErased(trx, erasureId, step.kind, deleted);
    return deleted;
  });
}

/**
 * One batch of a media step: the objects first (`deleteObject`), then their rows, so no stored
 * file outlives the row that knows of it. Answers how many rows went.
 */
export async function eraseMediaBatch(
  db: Db,
  erasureId: string,
  step: Step,
  limit: number,
  deleteObject: (key: string) => Promise<void>,
): Promise<number> {
  const result = await db.raw(
    `SELECT id, storage_key FROM media WHERE id = ANY(ARRAY(SELECT k FROM (${step.select.sql}) AS keys (k) LIMIT ?))`,
    [...step.select.bindings, limit] as Knex.RawBinding[],
  );
  const rows = result.rows as Array<{ id: number; storage_key: string | null }>;
  for (const row of rows) if (row.storage_key) await deleteObject(row.storage_key);
  return db.transaction(async (trx: Knex.Transaction) => {
    const deleted = rows.length
      ? await trx('media')
          .whereIn(
            'id',
            rows.map((r) => r.id),
          )
          .delete()
      : 0;
    await countErased(trx, erasureId, step.kind, deleted);
    return deleted;
  });
}
