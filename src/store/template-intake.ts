// Intake of Meta's template webhooks and customers' marketing preferences, inside the webhook's one
// transaction. Each template event is kept once (a redelivery finds its key taken) and moves its
// template's latest status, category or quality forward, never back to an older report. A
// preference lands on the customer, found or created as messages find them; an older one never
// overwrites a newer one. Neither is answered; a template the catalogue lacks asks for its
// account's sync (src/store/template-catalogue.ts).
import type { Knex } from 'knex';
import { sha256Hex } from '../crypto.js';
import type { MarketingPreference, TemplateEvent } from '../meta/template-payload.js';
import type { ParsedWebhook } from '../meta/webhook-payload.js';
import { canonicalJson } from './canonical-json.js';
import { resolveCustomer } from './customers.js';
import type { ItemRunner } from './intake.js';
import { activeNumberOwners, type NumberOwner } from './integrations.js';
import type { MessageTemplateUpdate } from './tables.js';

/**
 * The status a status event leaves the template in. FLAGGED, LOCKED, UNLOCKED and the like are
 * recorded but leave the status as it was; UNARCHIVED returns the template to a status the webhook
 * does not name, so it is unknown until Meta reports the next one (or the Graph API is read).
 */
const STATUS_OF_EVENT: Record<string, string | null> = {
  APPROVED: 'APPROVED',
  REJECTED: 'REJECTED',
  PENDING: 'PENDING',
  PAUSED: 'PAUSED',
  DISABLED: 'DISABLED',
  IN_APPEAL: 'IN_APPEAL',
  PENDING_DELETION: 'PENDING_DELETION',
  DELETED: 'DELETED',
  ARCHIVED: 'ARCHIVED',
  LIMIT_EXCEEDED: 'LIMIT_EXCEEDED',
  REINSTATED: 'APPROVED',
  UNARCHIVED: null,
};

export const hasTemplateItems = (parsed: ParsedWebhook) =>
  (parsed.templateEvents?.length ?? 0) + (parsed.userPreferences?.length ?? 0) > 0;

/**
 * What identifies a template event: Meta sends no event id, and a redelivery repeats the body
 * byte for byte, trigger time (entry.time) included. Two real changes differ in time or value (a
 * template paused twice is paused at two times), so the hash of both tells them apart while a
 * redelivery finds its key taken.
 */
function templateEventKey(event: TemplateEvent): string {
  return sha256Hex(canonicalJson({ time: event.occurredAt, value: event.value }));
}

const date = (ms: number | null) => (ms === null ? null : new Date(ms));

export async function intakeTemplateItems(
  trx: Knex.Transaction,
  parsed: ParsedWebhook,
  runner: ItemRunner,
): Promise<{ stored: number; duplicates: number; rejected: number; syncWabaIds: string[] }> {
  const result = { stored: 0, duplicates: 0, rejected: 0, syncWabaIds: [] as string[] };
  const toSync = new Set<string>();
  const events = parsed.templateEvents ?? [];
  if (events.length > 0) {
    // Only accounts this service connected (now or before): another WABA's templates are not ours to keep.
    const known = new Set(
      (
        await trx('whatsapp_business_accounts')
          .whereIn('waba_id', [...new Set(events.map((e) => e.wabaId))])
          .distinct('waba_id')
      ).map((r) => r.waba_id),
    );
    // Templates in sorted order, so concurrent deliveries lock their rows in one order.
    const sorted = events
      .filter((e) => known.has(e.wabaId))
      .sort((a, b) => compare(`${a.wabaId}\u0001${a.templateId}`, `${b.wabaId}\u0001${b.templateId}`));
    result.rejected += await runner.eachItem(
      trx,
      sorted,
      async (sp, event) => {
        const recorded = await recordTemplateEvent(sp, event);
        if (recorded === 'duplicate') result.duplicates += 1;
        else result.stored += 1;
        if (recorded === 'needs_sync') toSync.add(event.wabaId);
      },
      (event, reason) => runner.reject('template_event', reason, event.value),
    );
    result.syncWabaIds = [...toSync].sort();
  }

  const preferences = parsed.userPreferences ?? [];
  if (preferences.length > 0) {
    const owners = await activeNumberOwners(trx, [...new Set(preferences.map((p) => p.phoneNumberId))]);
    // Customers in intake's key order (business, BSUID, phone).
    const sorted = preferences
      .filter((p) => owners.has(p.phoneNumberId))
      .sort((a, b) => compare(preferenceKey(owners, a), preferenceKey(owners, b)));
    result.rejected += await runner.eachItem(
      trx,
      sorted,
      (sp, preference) => applyPreference(sp, owners.get(preference.phoneNumberId)!.businessId, preference),
      (preference, reason) =>
        runner.reject('user_preference', reason, { value: preference.value, category: preference.category }),
    );
  }
  return result;
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const preferenceKey = (owners: Map<string, NumberOwner>, p: MarketingPreference) =>
  `${owners.get(p.phoneNumberId)?.businessId}\u0001${p.bsuid ?? ''}\u0001${p.phone ?? ''}`;

/**
 * Keeps the event once; a new one moves the template's row. `needs_sync` when the catalogue has
 * not read the template's components yet, or a review began again (an edited template goes back to
 * PENDING): only Meta's list has the components.
 */
async function recordTemplateEvent(
  trx: Knex.Transaction,
  event: TemplateEvent,
): Promise<'duplicate' | 'stored' | 'needs_sync'> {
  const [inserted] = await trx('template_events')
    .insert({
      waba_id: event.wabaId,
      message_template_id: event.templateId,
      name: event.name,
      language: event.language,
      field: event.field,
      event: event.event,
      reason: event.reason,
      category: event.category,
      previous_category: event.previousCategory,
      new_category: event.newCategory,
      correct_category: event.correctCategory,
      category_update_at: date(event.categoryUpdateAt),
      previous_quality_score: event.previousQualityScore,
      new_quality_score: event.newQualityScore,
      other_info: event.otherInfo,
      rejection_info: event.rejectionInfo,
      disable_date: date(event.disableDate),
      occurred_at: date(event.occurredAt),
      event_key: templateEventKey(event),
      value: event.value,
    })
    .onConflict(['waba_id', 'message_template_id', 'field', 'event_key'])
    .ignore()
    .returning('id');
  if (!inserted) return 'duplicate';
  const known = await applyToTemplate(trx, event);
  const reviewAgain = event.field === 'message_template_status_update' && event.event === 'PENDING';
  return known && !reviewAgain ? 'stored' : 'needs_sync';
}

/**
 * The template's latest status, category and quality, each moved only by a report at least as new.
 * True when the catalogue already knew the template's components.
 */
async function applyToTemplate(trx: Knex.Transaction, event: TemplateEvent): Promise<boolean> {
  const key = { waba_id: event.wabaId, message_template_id: event.templateId };
  await trx('message_templates').insert(key).onConflict(['waba_id', 'message_template_id']).ignore();
  const current = await trx('message_templates').where(key).forUpdate().first();
  if (!current) return false;
  const at = new Date(event.occurredAt ?? Date.now());
  const newer = (previous: Date | null) => previous === null || previous.getTime() <= at.getTime();
  const patch: MessageTemplateUpdate = {
    ...(event.name ? { name: event.name } : {}),
    ...(event.language ? { language: event.language } : {}),
    updated_at: new Date(),
  };
  if (event.field === 'message_template_status_update' && event.event && newer(current.status_at)) {
    const status = STATUS_OF_EVENT[event.event];
    if (status !== undefined) {
      patch.status = status;
      patch.status_reason = event.reason;
    }
    patch.last_event = event.event;
    patch.status_at = at;
  }
  const category = event.field === 'template_category_update' ? event.newCategory : event.category;
  if (category && newer(current.category_at)) {
    patch.category = category;
    patch.category_at = at;
    // An announcement names the category to come and when; a completed change settles it.
    if (event.field === 'template_category_update') {
      patch.pending_category = event.correctCategory;
      patch.pending_category_at = event.correctCategory ? date(event.categoryUpdateAt) : null;
    }
  }
  if (event.field === 'message_template_quality_update' && event.newQualityScore && newer(current.quality_at)) {
    patch.quality_score = event.newQualityScore;
    patch.quality_at = at;
  }
  await trx('message_templates').where({ id: current.id }).update(patch);
  return current.components !== null;
}

/** The customer's marketing preference, found or created by phone or BSUID; an older report never wins. */
async function applyPreference(trx: Knex.Transaction, businessId: string, preference: MarketingPreference) {
  const customerId = await resolveCustomer(trx, {
    businessId,
    phone: preference.phone,
    bsuid: preference.bsuid,
    parentBsuid: preference.parentBsuid,
    username: null,
    name: preference.name,
  });
  const at = new Date(preference.occurredAt);
  await trx('customers')
    .where({ id: customerId })
    .andWhere((q) => void q.whereNull('marketing_preference_at').orWhere('marketing_preference_at', '<=', at))
    .update({
      marketing_preference: preference.value === 'stop' ? 'stopped' : 'resumed',
      marketing_preference_at: at,
      marketing_preference_phone_number_id: preference.phoneNumberId,
      updated_at: new Date(),
    });
}
