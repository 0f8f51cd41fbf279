// Coexistence numbers (a WhatsApp Business app number onboarded to the Cloud API): which numbers
// are, the two one-time syncs Meta offers within 24 hours of onboarding (contacts, chat history)
// and their state, and the Cloud API side being offboarded (ACCOUNT_OFFBOARDED).
import type { Knex } from 'knex';
import type { Db } from '../db.js';
import { insertStarts } from './outbox.js';
import { signupEventWaitSeconds, type SignupEventOutcome } from './signup-events.js';
import type { BusinessAppSyncRow, PhoneNumberRow } from './tables.js';

export const SYNC_TYPES = ['smb_app_state_sync', 'history'] as const;
export type SyncType = (typeof SYNC_TYPES)[number];
export type SyncState = 'pending' | 'requested' | 'receiving' | 'completed' | 'declined' | 'failed' | 'expired';

/** Meta accepts the sync requests for 24 hours after the number was onboarded. */
export const SYNC_WINDOW_MS = 24 * 60 * 60 * 1000;
/** How long a FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING session marks the connect that follows it. */
const SIGNUP_EVENT_MATCH_MS = 60 * 60 * 1000;
const BUSINESS_APP_ONBOARDING = 'FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING';

/** The outbox row that starts a number's sync workflow (names from src/temporal/names.ts). */
export interface SyncStart {
  taskQueue: string;
  workflowType: string;
  workflowId(phoneNumberRowId: string): string;
}

export const isCoexistence = (n: Pick<PhoneNumberRow, 'is_on_biz_app' | 'coexistence_onboarded_at'>) =>
  n.is_on_biz_app || n.coexistence_onboarded_at !== null;

/**
 * Marks the integration's coexistence numbers (Meta says is_on_biz_app, or the signup session said
 * FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING for the number) onboarded now, the first time only, with
 * their sync rows and the outbox row that starts the sync workflow: in the persist transaction, so
 * the syncs are requested exactly when the integration is saved.
 */
export async function markCoexistenceNumbers(
  trx: Knex.Transaction,
  input: { integrationId: string; businessId: string; start: SyncStart },
  now = new Date(),
): Promise<void> {
  const signedUpAsApp = trx('signup_events')
    .select('phone_number_id')
    .where({ business_id: input.businessId, event: BUSINESS_APP_ONBOARDING })
    .where('created_at', '>', new Date(now.getTime() - SIGNUP_EVENT_MATCH_MS))
    .whereNotNull('phone_number_id');
  const numbers = await trx('whatsapp_phone_numbers')
    .where({ integration_id: input.integrationId, is_active: true })
    .where((q) => void q.where({ is_on_biz_app: true }).orWhereIn('phone_number_id', signedUpAsApp))
    // Connecting again puts an offboarded number back on the Cloud API.
    .update({
      coexistence_onboarded_at: trx.raw('COALESCE(coexistence_onboarded_at, ?)', [now]),
      coexistence_offboarded_at: null,
    })
    .returning(['id', 'coexistence_onboarded_at']);
  await startSyncs(trx, numbers, input, now);
}

/**
 * The session event arrived after the connect saved the number (the popup's message and the code
 * race): the same marking for that one number of the business's active integration.
 */
export async function markCoexistenceFromSignup(
  db: Db,
  input: { businessId: string; phoneNumberId: string; start: SyncStart; eventsPerHour: number },
): Promise<SignupEventOutcome> {
  const now = new Date();
  return db.transaction(async (trx) => {
    const wait = await signupEventWaitSeconds(trx, input.businessId, input.eventsPerHour);
    if (wait > 0) return { recorded: false, retryAfterSeconds: wait };
    // Kept for a connect still under way: it marks the number when it saves it.
    await trx('signup_events').insert({
      business_id: input.businessId,
      event: BUSINESS_APP_ONBOARDING,
      phone_number_id: input.phoneNumberId,
    });
    const numbers: Array<Pick<PhoneNumberRow, 'id' | 'integration_id'>> = await trx('whatsapp_phone_numbers as n')
      .join('channel_integrations as i', 'i.id', 'n.integration_id')
      .where({ 'i.business_id': input.businessId, 'i.is_active': true, 'n.is_active': true })
      .where('n.phone_number_id', input.phoneNumberId)
      .select('n.id', 'n.integration_id');
    for (const number of numbers) {
      const marked = await trx('whatsapp_phone_numbers')
        .where({ id: number.id })
        .update({ coexistence_onboarded_at: trx.raw('COALESCE(coexistence_onboarded_at, ?)', [now]) })
        .returning(['id', 'coexistence_onboarded_at']);
      await startSyncs(trx, marked, { ...input, integrationId: number.integration_id }, now);
    }
    return { recorded: true } as const;
  });
}

async function startSyncs(
  trx: Knex.Transaction,
  numbers: Array<{ id: string; coexistence_onboarded_at: Date | null }>,
  input: { integrationId: string; businessId: string; start: SyncStart },
  now: Date,
): Promise<void> {
  if (numbers.length === 0) return;
  await trx('business_app_syncs')
    .insert(
      numbers.flatMap((n) =>
        SYNC_TYPES.map((syncType) => ({
          phone_number_row_id: n.id,
          sync_type: syncType,
          state: 'pending' as const,
          deadline_at: new Date((n.coexistence_onboarded_at ?? now).getTime() + SYNC_WINDOW_MS),
        })),
      ),
    )
    .onConflict(['phone_number_row_id', 'sync_type'])
    .ignore();
  await insertStarts(
    trx,
    numbers.map((n) => ({
      taskQueue: input.start.taskQueue,
      workflowType: input.start.workflowType,
      workflowId: input.start.workflowId(n.id),
      args: [{ phoneNumberRowId: n.id }],
      businessId: input.businessId,
      integrationId: input.integrationId,
      messageId: null,
    })),
  );
}

export interface SyncTarget {
  integrationId: string;
  phoneNumberId: string;
  /** Whether the number can still be asked: active, its integration active, not offboarded. */
  usable: boolean;
  syncs: Array<{ syncType: SyncType; state: SyncState; deadline: string }>;
}

/** What the sync workflow works from; null when the number row is gone. */
export async function syncTarget(db: Db, phoneNumberRowId: string): Promise<SyncTarget | null> {
  const number:
    | (Pick<PhoneNumberRow, 'integration_id' | 'phone_number_id' | 'is_active' | 'coexistence_offboarded_at'> & {
        integration_active: boolean;
      })
    | undefined = await db('whatsapp_phone_numbers as n')
    .join('channel_integrations as i', 'i.id', 'n.integration_id')
    .where('n.id', phoneNumberRowId)
    .first(
      'n.integration_id',
      'n.phone_number_id',
      'n.is_active',
      'n.coexistence_offboarded_at',
      'i.is_active as integration_active',
    );
  if (!number) return null;
  const syncs = await db('business_app_syncs').where({ phone_number_row_id: phoneNumberRowId }).orderBy('id');
  return {
    integrationId: number.integration_id,
    phoneNumberId: number.phone_number_id,
    usable: number.is_active && Boolean(number.integration_active) && !number.coexistence_offboarded_at,
    syncs: syncs.map((s) => ({ syncType: s.sync_type, state: s.state, deadline: s.deadline_at.toISOString() })),
  };
}

export async function syncRow(
  db: Db,
  phoneNumberRowId: string,
  syncType: SyncType,
): Promise<BusinessAppSyncRow | undefined> {
  return db('business_app_syncs').where({ phone_number_row_id: phoneNumberRowId, sync_type: syncType }).first();
}

/** Meta accepted the request: recorded once, never asked again. */
export async function recordSyncRequested(
  db: Db,
  phoneNumberRowId: string,
  syncType: SyncType,
  requestId: string | null,
): Promise<void> {
  const now = new Date();
  await db('business_app_syncs')
    .where({ phone_number_row_id: phoneNumberRowId, sync_type: syncType, state: 'pending' })
    .update({
      state: 'requested',
      request_id: requestId,
      requested_at: now,
      attempts: db.raw('attempts + 1'),
      last_error: null,
      updated_at: now,
    });
}

/** An attempt that failed and will be retried: counted, with Meta's (already scrubbed) reason. */
export async function recordSyncAttempt(
  db: Db,
  phoneNumberRowId: string,
  syncType: SyncType,
  error: string,
): Promise<void> {
  await db('business_app_syncs')
    .where({ phone_number_row_id: phoneNumberRowId, sync_type: syncType, state: 'pending' })
    .update({ attempts: db.raw('attempts + 1'), last_error: error.slice(0, 500), updated_at: new Date() });
}

/** The request will not be made: Meta refused it for good, or its 24 hours passed. */
export async function recordSyncGaveUp(
  db: Db,
  phoneNumberRowId: string,
  syncType: SyncType,
  state: 'failed' | 'expired',
  error: string | null,
): Promise<void> {
  await db('business_app_syncs')
    .where({ phone_number_row_id: phoneNumberRowId, sync_type: syncType, state: 'pending' })
    .update({ state, ...(error ? { last_error: error.slice(0, 500) } : {}), updated_at: new Date() });
}

/**
 * ACCOUNT_OFFBOARDED: the owner changed devices or re-registered the app, and Meta took the Cloud
 * API side of the account's coexistence numbers away; ACCOUNT_RECONNECTED gives it back. The event
 * names the account, not a number: it applies to the account's coexistence numbers.
 */
export async function applyCoexistenceEvent(
  trx: Knex.Transaction,
  wabaId: string,
  event: 'ACCOUNT_OFFBOARDED' | 'ACCOUNT_RECONNECTED',
  now: Date,
): Promise<string[]> {
  const rows = await trx('whatsapp_phone_numbers')
    .where({ waba_id: wabaId, is_active: true })
    .where((q) => void q.where({ is_on_biz_app: true }).orWhereNotNull('coexistence_onboarded_at'))
    .where((q) =>
      event === 'ACCOUNT_OFFBOARDED'
        ? void q.whereNull('coexistence_offboarded_at')
        : void q.whereNotNull('coexistence_offboarded_at'),
    )
    .update({ coexistence_offboarded_at: event === 'ACCOUNT_OFFBOARDED' ? now : null, updated_at: now })
    .returning('phone_number_id');
  return rows.map((r) => r.phone_number_id);
}

/** The sync rows of some numbers, for status. */
export async function syncsOf(db: Db, phoneNumberRowIds: string[]): Promise<BusinessAppSyncRow[]> {
  if (phoneNumberRowIds.length === 0) return [];
  return db('business_app_syncs').whereIn('phone_number_row_id', phoneNumberRowIds);
}
