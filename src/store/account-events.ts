// Meta's account events, applied once each: an app uninstalled, a partner removed or an account
// deleted ends the integration; restrictions, violations and bans show on the account; quality,
// messaging-limit, throughput and display-name changes update the number.
import type { Knex } from 'knex';
import { sha256Hex } from '../crypto.js';
import type { Db } from '../db.js';
import type { AccountEvent } from '../meta/webhook-payload.js';
import { canonicalJson } from './canonical-json.js';
import { applyCoexistenceEvent } from './coexistence.js';

const REMOVAL_EVENTS = new Set(['PARTNER_APP_UNINSTALLED', 'PARTNER_REMOVED', 'ACCOUNT_DELETED']);
const STATUS_EVENTS: Record<string, string> = {
  ACCOUNT_VIOLATION: 'violation',
  ACCOUNT_RESTRICTION: 'restricted',
};

export type AccountEventEffect =
  | { kind: 'duplicate' }
  | { kind: 'recorded' }
  /** Integrations that lost their last active account: stop their schedule, work and token. */
  | { kind: 'removed'; integrationIds: string[] }
  | { kind: 'account_status'; status: string }
  /** Numbers whose details should be read again from Meta. */
  | { kind: 'number'; numbers: Array<{ integrationId: string; phoneNumberId: string }> }
  /** Coexistence numbers whose Cloud API side Meta offboarded or reconnected. */
  | { kind: 'coexistence'; event: string; phoneNumberIds: string[] };

export function accountEventKey(event: AccountEvent): string {
  return sha256Hex(
    canonicalJson({ field: event.field, entry: event.entryId, time: event.entryTime, value: event.value }),
  );
}

const digits = (value: unknown) =>
  typeof value === 'string' || typeof value === 'number' ? String(value).replace(/\D/g, '') : '';

export interface ApplyOptions {
  /** Runs in the event's transaction once its effect is applied (a first delivery only). */
  onApplied?: (trx: Knex.Transaction, effect: AccountEventEffect) => Promise<void>;
}

export async function applyAccountEvent(
  db: Db,
  event: AccountEvent,
  options: ApplyOptions = {},
): Promise<AccountEventEffect> {
  const name =
    typeof event.value.event === 'string'
      ? event.value.event
      : typeof event.value.decision === 'string'
        ? event.value.decision
        : null;
  return db.transaction(async (trx) => {
    const [inserted] = await trx('account_events')
      .insert({
        event_key: accountEventKey(event),
        field: event.field,
        waba_id: event.wabaId,
        event: name,
        value: event.value,
      })
      .onConflict('event_key')
      .ignore()
      .returning('id');
    if (!inserted) return { kind: 'duplicate' as const };
    const now = new Date();
    let effect: AccountEventEffect = { kind: 'recorded' };
    if (event.field === 'account_update' && name && REMOVAL_EVENTS.has(name)) {
      const eventAt = event.entryTime === null ? now : new Date(event.entryTime * 1000);
      const integrationIds = await removeAccount(trx, event.wabaId, name, event.value, eventAt, now);
      effect = { kind: 'removed', integrationIds };
    } else if (event.field === 'account_update' && name === 'DISABLED_UPDATE') {
      effect = await applyBan(trx, event, now);
    } else if (event.field === 'account_update' && name && STATUS_EVENTS[name]) {
      await trx('whatsapp_business_accounts').where({ waba_id: event.wabaId, is_active: true }).update({
        account_status: STATUS_EVENTS[name],
        account_status_detail: event.value,
        account_status_at: now,
        updated_at: now,
      });
      effect = { kind: 'account_status', status: STATUS_EVENTS[name] };
    } else if (event.field === 'account_update' && (name === 'ACCOUNT_OFFBOARDED' || name === 'ACCOUNT_RECONNECTED')) {
      effect = {
        kind: 'coexistence',
        event: name,
        phoneNumberIds: await applyCoexistenceEvent(trx, event.wabaId, name, now),
      };
    } else if (event.field === 'phone_number_quality_update' || event.field === 'phone_number_name_update') {
      effect = { kind: 'number', numbers: await updateNumber(trx, event, name, now) };
    }
    await trx('account_events').where({ id: inserted.id }).update({ applied_to: effect });
    await options.onApplied?.(trx, effect);
    return effect;
  });
}

/**
 * The businesses an event leaves without WhatsApp: integrations Meta removed, and integrations of
 * which ACCOUNT_OFFBOARDED took the last number that still answered on the Cloud API.
 */
export async function businessesThatLeft(trx: Knex.Transaction, effect: AccountEventEffect): Promise<string[]> {
  if (effect.kind === 'removed') {
    const rows = await trx('channel_integrations').whereIn('id', effect.integrationIds).distinct('business_id');
    return rows.map((r) => r.business_id);
  }
  if (effect.kind !== 'coexistence' || effect.event !== 'ACCOUNT_OFFBOARDED') return [];
  const rows = await trx('whatsapp_phone_numbers as n')
    .join('channel_integrations as i', 'i.id', 'n.integration_id')
    .whereIn('n.phone_number_id', effect.phoneNumberIds)
    .where({ 'n.is_active': true, 'i.is_active': true })
    .whereNotExists(
      (q) =>
        void q
          .select(trx.raw('1'))
          .from('whatsapp_phone_numbers as o')
          .whereRaw('o.integration_id = i.id')
          .where('o.is_active', true)
          .whereNull('o.coexistence_offboarded_at'),
    )
    .distinct('i.business_id');
  return rows.map((r: { business_id: string }) => r.business_id);
}

/**
 * Ends the account under integrations connected before the event happened. An older event (an
 * uninstall delivered late, after the business reconnected) never removes the newer integration.
 * Meta's times are whole seconds, so an integration connected within the event's second counts as
 * older.
 */
async function removeAccount(
  trx: Knex.Transaction,
  wabaId: string,
  reason: string,
  detail: Record<string, unknown>,
  eventAt: Date,
  now: Date,
): Promise<string[]> {
  const connectedBefore = trx('channel_integrations')
    .select('id')
    .where((q) => void q.whereNull('connected_at').orWhere('connected_at', '<', new Date(eventAt.getTime() + 1000)));
  const accounts = await trx('whatsapp_business_accounts')
    .where({ waba_id: wabaId, is_active: true })
    .whereIn('integration_id', connectedBefore)
    .update({
      is_active: false,
      account_status: 'removed',
      account_status_detail: detail,
      account_status_at: now,
      updated_at: now,
    })
    .returning(['id', 'integration_id']);
  const removed: string[] = [];
  for (const account of accounts) {
    await trx('whatsapp_phone_numbers').where({ account_id: account.id }).update({ is_active: false, updated_at: now });
    const stillActive = await trx('whatsapp_business_accounts')
      .where({ integration_id: account.integration_id, is_active: true })
      .first('id');
    if (stillActive) continue;
    await trx('channel_integrations')
      .where({ id: account.integration_id, is_active: true })
      .update({ is_active: false, state: 'removed', inactive_reason: reason, disconnected_at: now, updated_at: now });
    removed.push(account.integration_id);
  }
  return removed;
}

/**
 * DISABLED_UPDATE carries `ban_info: {waba_ban_state, waba_ban_date}`
 * (https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/account_update):
 * SCHEDULE_FOR_DISABLE warns (the account still works until the date), DISABLE disables it,
 * REINSTATE gives it back. The state and Meta's date ("April 17, 2025") are kept as Meta sends them.
 */
const BAN_STATUS: Record<string, string> = {
  SCHEDULE_FOR_DISABLE: 'disable_scheduled',
  DISABLE: 'disabled',
  REINSTATE: 'ok',
};

async function applyBan(trx: Knex.Transaction, event: AccountEvent, now: Date): Promise<AccountEventEffect> {
  const ban = (event.value.ban_info ?? {}) as { waba_ban_state?: unknown; waba_ban_date?: unknown };
  const state = typeof ban.waba_ban_state === 'string' ? ban.waba_ban_state : null;
  const status = (state && BAN_STATUS[state]) ?? 'disabled';
  await trx('whatsapp_business_accounts')
    .where({ waba_id: event.wabaId, is_active: true })
    .update({
      account_status: status,
      account_status_detail: status === 'ok' ? null : event.value,
      account_status_at: now,
      ban_state: state,
      ban_date: typeof ban.waba_ban_date === 'string' ? ban.waba_ban_date : null,
      updated_at: now,
    });
  return { kind: 'account_status', status };
}

/** A limit as a webhook carries it: TIER_* strings in phone_number_quality_update. */
const limitText = (value: unknown) =>
  typeof value === 'string' && value !== '' ? value : typeof value === 'number' ? String(value) : undefined;

async function updateNumber(trx: Knex.Transaction, event: AccountEvent, name: string | null, now: Date) {
  const display = digits(event.value.display_phone_number);
  const candidates = await trx('whatsapp_phone_numbers').where({ waba_id: event.wabaId, is_active: true });
  const matches = candidates.filter((n) => digits(n.display_phone_number) === display);
  for (const number of matches) {
    if (event.field === 'phone_number_quality_update') {
      // THROUGHPUT_UPGRADE is about messages per second: its TIER_UNLIMITED means higher throughput,
      // never a messaging limit (phone_number_quality_update reference).
      const throughput = name === 'THROUGHPUT_UPGRADE';
      const limit = throughput ? undefined : limitText(event.value.current_limit);
      const portfolioLimit = throughput ? undefined : limitText(event.value.max_daily_conversations_per_business);
      await trx('whatsapp_phone_numbers')
        .where({ id: number.id })
        .update({
          quality_event: name,
          quality_event_at: now,
          ...(limit ? { messaging_limit_tier: limit } : {}),
          ...(throughput ? { throughput_level: 'HIGH' } : {}),
          updated_at: now,
        });
      // The limit is the business portfolio's: every number of the account shares it.
      if (portfolioLimit)
        await trx('whatsapp_phone_numbers')
          .where({ waba_id: event.wabaId, is_active: true })
          .update({ max_daily_conversations_per_business: portfolioLimit, updated_at: now });
    } else {
      const approved = name === 'APPROVED';
      const requested =
        typeof event.value.requested_verified_name === 'string' ? event.value.requested_verified_name : undefined;
      await trx('whatsapp_phone_numbers')
        .where({ id: number.id })
        .update({
          name_status: approved ? 'APPROVED' : name === 'REJECTED' ? 'DECLINED' : (name ?? number.name_status),
          ...(approved && requested ? { verified_name: requested } : {}),
          updated_at: now,
        });
    }
  }
  // A new portfolio limit concerns every number of the account: all are read again.
  const portfolioLimit =
    event.field === 'phone_number_quality_update' &&
    name !== 'THROUGHPUT_UPGRADE' &&
    limitText(event.value.max_daily_conversations_per_business);
  return (portfolioLimit ? candidates : matches).map((n) => ({
    integrationId: n.integration_id,
    phoneNumberId: n.phone_number_id,
  }));
}
