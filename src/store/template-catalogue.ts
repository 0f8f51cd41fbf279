// The template catalogue: every template of a business's WhatsApp Business Accounts as Meta's
// GET /{waba-id}/message_templates lists it, kept beside what the template webhooks report.
//
// A sync never moves a template back in time. It notes when it began (before its first page; as
// the second before, since Meta's webhook times are whole seconds), and writes a template's status,
// category and quality only where no webhook of that moment or later has set them; what it writes
// counts as of that moment. A webhook that arrives later but reports an earlier change loses to the
// sync's (newer) reading, as it would to a newer webhook.
import type { Knex } from 'knex';
import type { Db } from '../db.js';
import type { MessageTemplate } from '../meta/graph-client.js';
import { PENDING_COLUMNS, FAST_PATH_GRACE_MS, type PendingStart } from './outbox.js';
import type { BusinessAccountRow, MessageTemplateRow } from './tables.js';

/** The outbox row that starts an account's sync (names from src/temporal/names.ts). */
export interface TemplateSyncStart {
  taskQueue: string;
  workflowType: string;
  workflowId(accountRowId: string): string;
}

/**
 * Asks for a sync of the active accounts that match: marks when it was asked (a pass that began
 * earlier then runs once more) and arms the account's one outbox row again, unless it is still
 * waiting to be started (the waiting start covers this ask too).
 */
export async function requestTemplateSyncs(
  trx: Knex.Transaction,
  target: { integrationId: string } | { wabaIds: string[] },
  start: TemplateSyncStart,
  now = new Date(),
): Promise<PendingStart[]> {
  const query = trx('whatsapp_business_accounts as a')
    .join('channel_integrations as i', 'i.id', 'a.integration_id')
    .where({ 'a.is_active': true, 'i.is_active': true });
  if ('integrationId' in target) query.andWhere('a.integration_id', target.integrationId);
  else if (target.wabaIds.length === 0) return [];
  else query.whereIn('a.waba_id', target.wabaIds);
  const accounts: Array<{ id: string; integration_id: string; business_id: string }> = await query
    .orderBy('a.id')
    .select('a.id', 'a.integration_id', 'i.business_id');
  if (accounts.length === 0) return [];
  await trx('whatsapp_business_accounts')
    .whereIn(
      'id',
      accounts.map((a) => a.id),
    )
    .update({ templates_sync_requested_at: now });
  const availableAt = new Date(now.getTime() + FAST_PATH_GRACE_MS);
  return trx('workflow_starts')
    .insert(
      accounts.map((a) => ({
        workflow_type: start.workflowType,
        workflow_id: start.workflowId(a.id),
        task_queue: start.taskQueue,
        args: JSON.stringify([{ accountRowId: a.id }]),
        business_id: a.business_id,
        integration_id: a.integration_id,
        message_id: null,
        available_at: availableAt,
      })),
    )
    .onConflict('workflow_id')
    .merge({ done_at: null, started_at: null, attempts: 0, available_at: availableAt, last_error: null })
    .whereNotNull('workflow_starts.done_at')
    .returning([...PENDING_COLUMNS]);
}

export interface TemplateSyncAccount {
  wabaId: string;
  integrationId: string;
}

/** The account a sync reads, while it and its integration are active. */
export async function templateSyncAccount(db: Db, accountRowId: string): Promise<TemplateSyncAccount | null> {
  const row: Pick<BusinessAccountRow, 'waba_id' | 'integration_id'> | undefined = await db(
    'whatsapp_business_accounts as a',
  )
    .join('channel_integrations as i', 'i.id', 'a.integration_id')
    .where({ 'a.id': accountRowId, 'a.is_active': true, 'i.is_active': true })
    .first('a.waba_id', 'a.integration_id');
  return row ? { wabaId: row.waba_id, integrationId: row.integration_id } : null;
}

const noneAsNull = (reason: string | undefined) => (reason && reason !== 'NONE' ? reason : null);

/** One page of Meta's list, in one transaction, rows in id order (as intake locks them). */
export async function applySyncedTemplates(
  db: Db,
  wabaId: string,
  templates: MessageTemplate[],
  syncStartedAt: Date,
): Promise<void> {
  const sorted = [...templates].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  await db.transaction(async (trx) => {
    for (const t of sorted) {
      const now = new Date();
      const quality = t.quality_score?.score ?? null;
      await trx.raw(
        `INSERT INTO message_templates AS m (waba_id, message_template_id, name, language, status, status_reason,
           status_at, category, category_at, quality_score, quality_at, components, parameter_format, sub_category,
           rejected_reason, synced_at, deleted_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?, ?, ?, ?, NULL, ?)
         ON CONFLICT (waba_id, message_template_id) DO UPDATE SET
           name = EXCLUDED.name, language = EXCLUDED.language, components = EXCLUDED.components,
           parameter_format = EXCLUDED.parameter_format, sub_category = EXCLUDED.sub_category,
           rejected_reason = EXCLUDED.rejected_reason, synced_at = EXCLUDED.synced_at, deleted_at = NULL,
           updated_at = EXCLUDED.updated_at,
           status = CASE WHEN m.status_at IS NULL OR m.status_at <= EXCLUDED.status_at THEN EXCLUDED.status ELSE m.status END,
           status_reason = CASE WHEN m.status_at IS NULL OR m.status_at <= EXCLUDED.status_at THEN EXCLUDED.status_reason ELSE m.status_reason END,
           status_at = GREATEST(m.status_at, EXCLUDED.status_at),
           category = CASE WHEN EXCLUDED.category IS NOT NULL AND (m.category_at IS NULL OR m.category_at <= EXCLUDED.category_at)
             THEN EXCLUDED.category ELSE m.category END,
           category_at = CASE WHEN EXCLUDED.category IS NOT NULL THEN GREATEST(m.category_at, EXCLUDED.category_at) ELSE m.category_at END,
           quality_score = CASE WHEN EXCLUDED.quality_score IS NOT NULL AND (m.quality_at IS NULL OR m.quality_at <= EXCLUDED.quality_at)
             THEN EXCLUDED.quality_score ELSE m.quality_score END,
           quality_at = CASE WHEN EXCLUDED.quality_score IS NOT NULL THEN GREATEST(m.quality_at, EXCLUDED.quality_at) ELSE m.quality_at END`,
        [
          wabaId,
          t.id,
          t.name,
          t.language,
          t.status,
          t.status === 'REJECTED' ? noneAsNull(t.rejected_reason) : null,
          syncStartedAt,
          t.category ?? null,
          syncStartedAt,
          quality,
          syncStartedAt,
          JSON.stringify(t.components ?? []),
          t.parameter_format ?? null,
          t.sub_category ?? null,
          t.rejected_reason ?? null,
          now,
          now,
        ],
      );
    }
  });
}

/**
 * Ends a pass: templates Meta no longer lists (known before the pass began, not seen by it, and
 * not reported by a webhook since) are marked deleted. True when a sync was asked for after the
 * pass began, so the caller runs one more.
 */
export async function finishTemplateSync(
  db: Db,
  input: { accountRowId: string; wabaId: string; syncStartedAt: Date; passStartedAt: Date },
): Promise<{ again: boolean }> {
  const now = new Date();
  const { syncStartedAt } = input;
  await db('message_templates')
    .where({ waba_id: input.wabaId })
    .whereNull('deleted_at')
    .where('created_at', '<', syncStartedAt)
    .where((q) => void q.whereNull('synced_at').orWhere('synced_at', '<', syncStartedAt))
    .where((q) => void q.whereNull('status_at').orWhere('status_at', '<', syncStartedAt))
    .update({ deleted_at: now, updated_at: now });
  const [account] = await db('whatsapp_business_accounts')
    .where({ id: input.accountRowId })
    .update({ templates_synced_at: now })
    .returning(['templates_sync_requested_at']);
  const requested = account?.templates_sync_requested_at ?? null;
  return { again: requested !== null && requested.getTime() > input.passStartedAt.getTime() };
}

/** The business's active accounts: the only ones its template routes may touch. */
export async function templateAccountsOf(
  db: Db,
  businessId: string,
): Promise<Array<{ wabaId: string; integrationId: string }>> {
  const rows: Array<{ waba_id: string; integration_id: string }> = await db('whatsapp_business_accounts as a')
    .join('channel_integrations as i', 'i.id', 'a.integration_id')
    .where({ 'i.business_id': businessId, 'i.is_active': true, 'a.is_active': true })
    .orderBy('a.created_at')
    .select('a.waba_id', 'a.integration_id');
  return rows.map((r) => ({ wabaId: r.waba_id, integrationId: r.integration_id }));
}

export interface TemplateFilter {
  wabaIds: string[];
  status?: string | undefined;
  name?: string | undefined;
  language?: string | undefined;
  limit: number;
  before?: number | undefined;
}

/** Templates not deleted, newest row first; one more than asked tells the caller there is a next page. */
export async function listCatalogue(db: Db, filter: TemplateFilter): Promise<MessageTemplateRow[]> {
  if (filter.wabaIds.length === 0) return [];
  const query = db('message_templates')
    .whereIn('waba_id', filter.wabaIds)
    .whereNull('deleted_at')
    .whereNotNull('name')
    .orderBy('id', 'desc')
    .limit(filter.limit + 1);
  if (filter.status) query.andWhere('status', filter.status);
  if (filter.name) query.andWhere('name', filter.name);
  if (filter.language) query.andWhere('language', filter.language);
  if (filter.before !== undefined) query.andWhere('id', '<', filter.before);
  return query;
}

/**
 * The template Meta just accepted for review. A webhook that came first (the review was quick) has
 * already set its status: that status stays.
 */
export async function recordCreatedTemplate(
  db: Db,
  template: {
    wabaId: string;
    templateId: string;
    name: string;
    language: string;
    category: string;
    status: string;
    components: unknown[];
    parameterFormat: string;
  },
): Promise<MessageTemplateRow> {
  const now = new Date();
  const result = await db.raw(
    `INSERT INTO message_templates AS m (waba_id, message_template_id, name, language, status, category,
       components, parameter_format, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?::jsonb, ?, ?, ?)
     ON CONFLICT (waba_id, message_template_id) DO UPDATE SET
       name = EXCLUDED.name, language = EXCLUDED.language, components = EXCLUDED.components,
       parameter_format = EXCLUDED.parameter_format, status = COALESCE(m.status, EXCLUDED.status),
       category = COALESCE(m.category, EXCLUDED.category), deleted_at = NULL, updated_at = EXCLUDED.updated_at
     RETURNING *`,
    [
      template.wabaId,
      template.templateId,
      template.name,
      template.language,
      template.status,
      template.category,
      JSON.stringify(template.components),
      template.parameterFormat,
      now,
      now,
    ],
  );
  return (result.rows as MessageTemplateRow[])[0]!;
}

/** The versions of a template by name (one language, or all) in one of the accounts. */
export async function templatesNamed(
  db: Db,
  wabaIds: string[],
  name: string,
  language?: string,
): Promise<MessageTemplateRow[]> {
  if (wabaIds.length === 0) return [];
  const query = db('message_templates').whereIn('waba_id', wabaIds).where({ name }).whereNull('deleted_at');
  if (language) query.andWhere({ language });
  return query.orderBy('id');
}

export async function markTemplatesDeleted(db: Db, ids: number[]): Promise<void> {
  if (ids.length === 0) return;
  const now = new Date();
  await db('message_templates').whereIn('id', ids).update({ deleted_at: now, updated_at: now });
}

/** The daily ask (token care): every active account of the integration, in a transaction of its own. */
export async function requestIntegrationTemplateSyncs(
  db: Db,
  integrationId: string,
  start: TemplateSyncStart,
): Promise<void> {
  await db.transaction((trx) => requestTemplateSyncs(trx, { integrationId }, start));
}
