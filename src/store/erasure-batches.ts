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
import { countErased, readTarget, storeTarget, type CustomerTarget, type ErasureRow } from './erasures.js';
import { recipientKey } from './pacer.js';

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
  where: Fragment;
}

export interface ErasureScopeRows {
  businessId: string;
  steps: Step[];
}

const sql = (text: string, ...bindings: unknown[]): Fragment => ({ sql: text, bindings });
const and = (...parts: Fragment[]): Fragment => ({
  sql: parts.map((p) => `(${p.sql})`).join(' AND '),
  bindings: parts.flatMap((p) => p.bindings),
});
const or = (...parts: Fragment[]): Fragment => ({
  sql: parts.map((p) => `(${p.sql})`).join(' OR '),
  bindings: parts.flatMap((p) => p.bindings),
});
const subquery = (select: string, from: string, where: Fragment): Fragment => ({
  sql: `SELECT ${select} FROM ${from} WHERE ${where.sql}`,
  bindings: where.bindings,
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
  const messages = and(
    or(sql('business_id = ?', businessId), sql('business_id IS NULL AND phone_number_id = ANY(?::text[])', numbers)),
    or(
      sql('customer_id = ANY(?::bigint[])', customerIds),
      sql('customer_wa_id = ANY(?::text[])', phones),
      sql(`content->>'from_user_id' = ANY(?::text[])`, bsuids),
      sql(`content->'request'->>'to' = ANY(?::text[])`, addresses),
    ),
  );
  const conversations = subquery(
    'id',
    'conversations',
    sql('business_id = ? AND customer_id = ANY(?::bigint[])', businessId, customerIds),
  );
  const quotes = (column: string) =>
    sql(`EXISTS (SELECT 1 FROM unnest(?::text[]) a WHERE position(a IN ${column}) > 0)`, addresses);
  const keys = addresses.map(recipientKey);
  return [
    {
      kind: 'statuses',
      table: 'message_statuses',
      key: 'ctid',
      where: or(
        sql(
          `wamid IN (${subquery('wamid', 'messages', and(messages, sql('wamid IS NOT NULL'))).sql})`,
          ...messages.bindings,
        ),
        sql(`callback_data IN (${subquery('id::text', 'messages', messages).sql})`, ...messages.bindings),
        and(
          or(sql('recipient_id = ANY(?::text[])', phones), sql('recipient_user_id = ANY(?::text[])', bsuids)),
          sql('phone_number_id = ANY(?::text[])', numbers),
        ),
      ),
    },
    { kind: 'turns', table: 'turns', key: 'id', where: wrap('conversation_id IN', conversations) },
    {
      kind: 'workflowStarts',
      table: 'workflow_starts',
      key: 'id',
      where: wrap('message_id IN', subquery('id', 'messages', messages)),
    },
    { kind: 'messages', table: 'messages', key: 'id', where: messages },
    { kind: 'conversations', table: 'conversations', key: 'id', where: wrap('id IN', conversations) },
    // A webhook item PostgreSQL refused was never attributed to a business: every one that quotes
    // the customer goes.
    { kind: 'rejectedItems', table: 'rejected_items', key: 'id', where: quotes('raw') },
    {
      kind: 'webhookErrors',
      table: 'webhook_errors',
      key: 'id',
      where: and(sql('phone_number_id = ANY(?::text[])', numbers), quotes(`concat_ws(' ', title, message, details)`)),
    },
    // The pacer's and the messaging limit's rows of the business's own numbers only.
    {
      kind: 'pacing',
      table: 'send_pacing',
      key: 'ctid',
      where: sql('recipient = ANY(?::text[]) AND phone_number_id = ANY(?::text[])', keys, numbers),
    },
    {
      kind: 'messagingLimit',
      table: 'messaging_limit_recipients',
      key: 'ctid',
      where: sql('recipient_key = ANY(?::text[]) AND phone_number_id = ANY(?::text[])', keys, numbers),
    },
    {
      kind: 'customers',
      table: 'customers',
      key: 'id',
      where: and(
        sql('business_id = ?', businessId),
        or(
          sql('id = ANY(?::bigint[])', customerIds),
          sql('phone = ANY(?::text[])', phones),
          sql('bsuid = ANY(?::text[])', bsuids),
        ),
      ),
    },
  ];
}

const wrap = (prefix: string, inner: Fragment): Fragment => ({
  sql: `${prefix} (${inner.sql})`,
  bindings: inner.bindings,
});

function businessSteps(
  businessId: string,
  ids: { integrations: string[]; numbers: string[]; wabas: string[] },
): Step[] {
  const { integrations, numbers, wabas } = ids;
  const messages = or(
    sql('business_id = ?', businessId),
    sql('integration_id = ANY(?::uuid[])', integrations),
    sql('business_id IS NULL AND phone_number_id = ANY(?::text[])', numbers),
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
      where: or(
        ofNumbers,
        wrap('wamid IN', subquery('wamid', 'messages', and(messages, sql('wamid IS NOT NULL')))),
        wrap('callback_data IN', subquery('id::text', 'messages', messages)),
      ),
    },
    {
      kind: 'turns',
      table: 'turns',
      key: 'id',
      where: wrap('conversation_id IN', subquery('id', 'conversations', ofBusiness)),
    },
    {
      kind: 'workflowStarts',
      table: 'workflow_starts',
      key: 'id',
      where: or(ofBusiness, ofIntegrations, wrap('message_id IN', subquery('id', 'messages', messages))),
    },
    { kind: 'messages', table: 'messages', key: 'id', where: messages },
    { kind: 'conversations', table: 'conversations', key: 'id', where: ofBusiness },
    { kind: 'customers', table: 'customers', key: 'id', where: ofBusiness },
    // Customers PostgreSQL refused at intake are kept as {businessId}.
    {
      kind: 'rejectedItems',
      table: 'rejected_items',
      key: 'id',
      where: sql(`kind = 'customer' AND position(? IN raw) > 0`, JSON.stringify(businessId)),
    },
    { kind: 'webhookErrors', table: 'webhook_errors', key: 'id', where: ofNumbers },
    { kind: 'pacing', table: 'send_pacing', key: 'ctid', where: ofNumbers },
    {
      kind: 'messagingLimit',
      table: 'messaging_limit_recipients',
      key: 'ctid',
      where: or(
        sql(
          'portfolio_key = ANY(?::text[])',
          integrations.map((id) => `integration:${id}`),
        ),
        ofNumbers,
      ),
    },
    { kind: 'registrationAttempts', table: 'phone_number_registration_attempts', key: 'id', where: ofNumbers },
    { kind: 'templateEvents', table: 'template_events', key: 'id', where: ofAccounts },
    { kind: 'templates', table: 'message_templates', key: 'id', where: ofAccounts },
    { kind: 'accountEvents', table: 'account_events', key: 'id', where: ofAccounts },
    { kind: 'signupEvents', table: 'signup_events', key: 'id', where: ofBusiness },
    { kind: 'oauthStates', table: 'oauth_states', key: 'id', where: ofBusiness },
    { kind: 'connectTickets', table: 'connect_tickets', key: 'ticket_hash', where: ofBusiness },
    {
      kind: 'stagedSecrets',
      table: 'token_staging',
      key: 'ctid',
      where: sql('starts_with(connect_id, ?)', connectWorkflowIdPrefix(businessId)),
    },
    { kind: 'connectAttempts', table: 'connect_attempts', key: 'workflow_id', where: ofBusiness },
    { kind: 'phoneNumbers', table: 'whatsapp_phone_numbers', key: 'id', where: ofIntegrations },
    { kind: 'accounts', table: 'whatsapp_business_accounts', key: 'id', where: ofIntegrations },
    { kind: 'integrations', table: 'channel_integrations', key: 'id', where: ofBusiness },
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
      `DELETE FROM ${step.table} WHERE ${step.key} = ANY(ARRAY(SELECT ${step.key} FROM ${step.table} WHERE ${step.where.sql} LIMIT ?))`,
      [...step.where.bindings, limit] as Knex.RawBinding[],
    );
    const deleted = (result as { rowCount: number | null }).rowCount ?? 0;
    await countErased(trx, erasureId, step.kind, deleted);
    return deleted;
  });
}
