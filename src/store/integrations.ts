// The integration, its accounts and numbers: persisted in one transaction at the end of a connect,
// and its token read back (decrypted) only by activities that call Meta with it.
import type { Knex } from 'knex';
import { decryptText, encryptText, type Keyring } from '../crypto.js';
import type { Db } from '../db.js';
import { tokenHealthFor } from '../policy/token-health.js';
import { tokenKindOf, type TokenKind } from '../meta/token-kinds.js';
import { markCoexistenceNumbers, type SyncStart } from './coexistence.js';
import type { IntegrationRow, IntegrationSettings, IntegrationState, PhoneNumberRow } from './tables.js';
import { requestTemplateSyncs, type TemplateSyncStart } from './template-catalogue.js';

export const WHATSAPP = 'whatsapp';

export class NumberInUseError extends Error {
  override name = 'NumberInUseError';
  constructor(readonly phoneNumberIds: string[]) {
    super(`${phoneNumberIds.length} phone number(s) are connected to another business`);
  }
}

export interface DiscoveredNumber {
  phoneNumberId: string;
  displayPhoneNumber: string | null;
  verifiedName: string | null;
  qualityRating: string | null;
  /** Deprecated by Meta (null since the limit is the business portfolio's); kept as Meta reports it. */
  messagingLimitTier: string | null;
  /** The business portfolio's messaging limit, as Meta reports it on the number. */
  businessMessagingLimit: string | null;
  throughputLevel: string | null;
  nameStatus: string | null;
  codeVerificationStatus: string | null;
  platformType: string | null;
  /** Meta's `status` of the number (CONNECTED, PENDING, FLAGGED, ...). */
  status: string | null;
  /** The number stays on the WhatsApp Business app (coexistence). */
  isOnBizApp: boolean;
}

export interface DiscoveredAccount {
  wabaId: string;
  name: string | null;
  currency: string | null;
  timezoneId: string | null;
  phoneNumbers: DiscoveredNumber[];
}

export const credentialsAad = (integrationId: string) => `channel_integrations.credentials:${integrationId}`;

/** The integration a business sees: its active one, else its most recent one. */
export async function currentIntegration(db: Db, businessId: string): Promise<IntegrationRow | undefined> {
  return db('channel_integrations')
    .where({ business_id: businessId, channel: WHATSAPP })
    .orderBy([
      { column: 'is_active', order: 'desc' },
      { column: 'updated_at', order: 'desc' },
    ])
    .first();
}

/** What a disconnect works on: the active integration, or one deactivated that still holds its token. */
export async function integrationToDisconnect(db: Db, businessId: string): Promise<IntegrationRow | undefined> {
  return db('channel_integrations')
    .where({ business_id: businessId, channel: WHATSAPP })
    .where((q) => void q.where({ is_active: true }).orWhereNotNull('credentials'))
    .orderBy('updated_at', 'desc')
    .first();
}

export async function storeSettings(db: Db, integrationId: string, settings: IntegrationSettings): Promise<void> {
  await db('channel_integrations').where({ id: integrationId }).update({ settings, updated_at: new Date() });
}

/** The integration's active numbers as status lists them. */
export async function activeNumbersForStatus(db: Db, integrationId: string): Promise<PhoneNumberRow[]> {
  return db('whatsapp_phone_numbers')
    .where({ integration_id: integrationId, is_active: true })
    .orderBy('display_phone_number');
}

/** Phone numbers of this list that are active under another business's integration. */
export async function numbersActiveElsewhere(db: Db, businessId: string, phoneNumberIds: string[]): Promise<string[]> {
  if (phoneNumberIds.length === 0) return [];
  const rows = await db('whatsapp_phone_numbers as n')
    .join('channel_integrations as i', 'i.id', 'n.integration_id')
    .whereIn('n.phone_number_id', phoneNumberIds)
    .andWhere('n.is_active', true)
    .andWhereNot('i.business_id', businessId)
    .select('n.phone_number_id');
  return rows.map((r: { phone_number_id: string }) => r.phone_number_id);
}

/** The active integration that answers for an active number: what intake stores a message under. */
export interface NumberOwner {
  phoneNumberId: string;
  /** The number's own row (whatsapp_phone_numbers.id). */
  rowId: string;
  integrationId: string;
  businessId: string;
  state: IntegrationState;
  settings: IntegrationSettings;
  /** Set when Meta offboarded the Cloud API side of this coexistence number. */
  offboardedAt: Date | null;
}

/** The owners of these numbers (Meta's ids), by number; a number without an active owner is absent. */
export async function activeNumberOwners(
  db: Db | Knex.Transaction,
  phoneNumberIds: string[],
): Promise<Map<string, NumberOwner>> {
  if (phoneNumberIds.length === 0) return new Map();
  const rows: NumberOwner[] = await db('whatsapp_phone_numbers as n')
    .join('channel_integrations as i', 'i.id', 'n.integration_id')
    .whereIn('n.phone_number_id', phoneNumberIds)
    .where({ 'n.is_active': true, 'i.is_active': true })
    .select(
      'n.phone_number_id as phoneNumberId',
      'n.id as rowId',
      'i.id as integrationId',
      'i.business_id as businessId',
      'i.state as state',
      'i.settings as settings',
      'n.coexistence_offboarded_at as offboardedAt',
    );
  return new Map(rows.map((row) => [row.phoneNumberId, row]));
}

/** Whether any active integration other than `exceptIntegrationId` uses this account. */
export async function wabaUsedByOthers(db: Db, wabaId: string, exceptIntegrationId: string | null): Promise<boolean> {
  const query = db('whatsapp_business_accounts as a')
    .join('channel_integrations as i', 'i.id', 'a.integration_id')
    .where({ 'a.waba_id': wabaId, 'a.is_active': true, 'i.is_active': true });
  if (exceptIntegrationId) query.andWhereNot('i.id', exceptIntegrationId);
  return Boolean(await query.first('a.id'));
}

export interface PersistInput {
  businessId: string;
  metaUserId: string | null;
  token: { value: string; expiresAt: Date | null; type: string };
  accounts: DiscoveredAccount[];
  subscribedWabaIds: string[];
  registeredNumberIds: string[];
  expiryThresholdDays: number;
  /** Starts the contact and history syncs of coexistence numbers (an outbox row in this transaction). */
  businessAppSync?: SyncStart;
  /** Starts each account's template catalogue sync (an outbox row in this transaction). */
  templateSync?: TemplateSyncStart;
}

/**
 * Creates or updates (in place: one row per business and channel) the business's integration,
 * with every granted account and number, in one transaction. Connecting again repairs a
 * needs_reauth or disconnected integration instead of adding a second one.
 */
export async function persistConnectedIntegration(
  db: Db,
  keyring: Keyring,
  input: PersistInput,
): Promise<{ integrationId: string }> {
  return db.transaction(async (trx) => {
    // Serialize connects of one business; a second concurrent connect then updates the same row.
    await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', [`integration:${input.businessId}`]);
    const numberIds = input.accounts.flatMap((a) => a.phoneNumbers.map((n) => n.phoneNumberId));
    const conflicts = await numbersActiveElsewhere(trx, input.businessId, numberIds);
    if (conflicts.length > 0) throw new NumberInUseError(conflicts);

    const now = new Date();
    const existing: IntegrationRow | undefined = await trx('channel_integrations')
      .where({ business_id: input.businessId, channel: WHATSAPP })
      .orderBy('created_at', 'desc')
      .forUpdate()
      .first();
    const integrationId: string =
      existing?.id ??
      (
        await trx('channel_integrations')
          .insert({
            business_id: input.businessId,
            channel: WHATSAPP,
            channel_name: 'WhatsApp',
            is_active: false,
            state: 'inactive',
          })
          .returning('id')
      )[0]!.id;

    await trx('channel_integrations')
      .where({ id: integrationId })
      .update({
        is_active: true,
        state: 'active',
        credentials: { accessToken: encryptText(keyring, input.token.value, credentialsAad(integrationId)) },
        token_type: input.token.type,
        token_kind: tokenKindOf(input.token.type, input.token.expiresAt),
        token_expires_at: input.token.expiresAt,
        token_health: tokenHealthFor(input.token.expiresAt, input.expiryThresholdDays, now),
        token_checked_at: now,
        token_last_error: null,
        meta_user_id: input.metaUserId,
        // "Connected since" survives a repair of a live integration, and restarts after a disconnect.
        connected_at: existing?.is_active && existing.connected_at ? existing.connected_at : now,
        disconnected_at: null,
        inactive_reason: null,
        updated_at: now,
      });

    const grantedWabas = input.accounts.map((a) => a.wabaId);
    await trx('whatsapp_business_accounts')
      .where({ integration_id: integrationId })
      .whereNotIn('waba_id', grantedWabas)
      .update({ is_active: false, updated_at: now });
    await trx('whatsapp_phone_numbers')
      .where({ integration_id: integrationId })
      .whereNotIn('phone_number_id', numberIds)
      .update({ is_active: false, updated_at: now });

    for (const account of input.accounts) {
      const subscribed = input.subscribedWabaIds.includes(account.wabaId);
      const [accountRow] = await trx('whatsapp_business_accounts')
        .insert({
          integration_id: integrationId,
          waba_id: account.wabaId,
          name: account.name,
          currency: account.currency,
          timezone_id: account.timezoneId,
          is_active: true,
          subscribed_at: subscribed ? now : null,
          subscription_checked_at: subscribed ? now : null,
          subscription_state: subscribed ? 'subscribed' : 'unknown',
          account_status: 'ok',
          account_status_detail: null,
          account_status_at: null,
          updated_at: now,
        })
        .onConflict(['integration_id', 'waba_id'])
        .merge()
        .returning('id');
      for (const number of account.phoneNumbers) {
        await trx('whatsapp_phone_numbers')
          .insert({
            integration_id: integrationId,
            account_id: accountRow!.id,
            waba_id: account.wabaId,
            phone_number_id: number.phoneNumberId,
            display_phone_number: number.displayPhoneNumber,
            verified_name: number.verifiedName,
            quality_rating: number.qualityRating,
            messaging_limit_tier: number.messagingLimitTier,
            business_messaging_limit: number.businessMessagingLimit ?? null,
            throughput_level: number.throughputLevel ?? null,
            name_status: number.nameStatus,
            code_verification_status: number.codeVerificationStatus,
            platform_type: input.registeredNumberIds.includes(number.phoneNumberId) ? 'CLOUD_API' : number.platformType,
            meta_status: number.status ?? null,
            is_on_biz_app: number.isOnBizApp ?? false,
            is_active: true,
            ...(input.registeredNumberIds.includes(number.phoneNumberId) ? { registered_at: now } : {}),
            updated_at: now,
          })
          .onConflict(['integration_id', 'phone_number_id'])
          .merge();
      }
    }
    if (input.businessAppSync)
      await markCoexistenceNumbers(
        trx,
        { integrationId, businessId: input.businessId, start: input.businessAppSync },
        now,
      );
    if (input.templateSync) await requestTemplateSyncs(trx, { integrationId }, input.templateSync, now);
    return { integrationId };
  });
}

/** What debug_token said about the token at the last check: Meta's type and our kind. */
export async function recordTokenKind(
  db: Db,
  integrationId: string,
  token: { type: string | null; kind: TokenKind },
): Promise<void> {
  await db('channel_integrations')
    .where({ id: integrationId })
    .update({ token_type: token.type, token_kind: token.kind, updated_at: new Date() });
}

/** The token's kind as last read from debug_token (null for integrations connected before kinds were kept). */
export async function readTokenKind(db: Db, integrationId: string): Promise<TokenKind | null> {
  const row = await db('channel_integrations').where({ id: integrationId }).first('token_kind');
  return (row?.token_kind as TokenKind | null | undefined) ?? null;
}

/** The integration's token in clear, for an activity about to call Meta; undefined once destroyed. */
export async function readIntegrationToken(
  db: Db,
  keyring: Keyring,
  integrationId: string,
): Promise<string | undefined> {
  const row = await db('channel_integrations').where({ id: integrationId }).first('credentials');
  if (!row?.credentials?.accessToken) return undefined;
  return decryptText(keyring, row.credentials.accessToken, credentialsAad(integrationId));
}

export async function storeIntegrationToken(
  db: Db,
  keyring: Keyring,
  integrationId: string,
  token: { value: string; expiresAt: Date | null },
): Promise<void> {
  await db('channel_integrations')
    .where({ id: integrationId })
    .update({
      credentials: { accessToken: encryptText(keyring, token.value, credentialsAad(integrationId)) },
      token_expires_at: token.expiresAt,
      updated_at: new Date(),
    });
}

/** Destroys the token ciphertext of an integration that is no longer active. */
export async function destroyCredentials(db: Db, integrationId: string): Promise<void> {
  await db('channel_integrations')
    .where({ id: integrationId, is_active: false })
    .update({ credentials: null, token_health: 'unknown', updated_at: new Date() });
}

/** A token check that reached Meta: its health, and its expiry when Meta told it (null: never). */
export async function recordTokenHealth(
  db: Db,
  integrationId: string,
  check: { health: 'ok' | 'expiring'; expiresAt?: string | null | undefined },
): Promise<void> {
  const now = new Date();
  await db('channel_integrations')
    .where({ id: integrationId, is_active: true })
    .update({
      token_health: check.health,
      ...(check.expiresAt !== undefined
        ? { token_expires_at: check.expiresAt === null ? null : new Date(check.expiresAt) }
        : {}),
      token_checked_at: now,
      token_last_error: null,
      updated_at: now,
    });
}

/** A check that kept failing: when and why; the health itself is left as it was. */
export async function recordTokenCheckFailed(db: Db, integrationId: string, reason: string): Promise<void> {
  const now = new Date();
  await db('channel_integrations')
    .where({ id: integrationId })
    .update({
      token_checked_at: now,
      token_last_error: `check failed: ${reason}`.slice(0, 500),
      updated_at: now,
    });
}

/**
 * Stops an integration at once: it, its accounts and its numbers are no longer active, so new
 * messages for it are ignored. The token stays until Meta has been told (see DisconnectWhatsApp).
 */
export async function deactivateIntegration(
  db: Db,
  integrationId: string,
  reason: { state: 'inactive' | 'removed'; why: string },
): Promise<void> {
  const now = new Date();
  await db.transaction(async (trx) => {
    await trx('channel_integrations').where({ id: integrationId }).update({
      is_active: false,
      state: reason.state,
      disconnected_at: now,
      inactive_reason: reason.why,
      updated_at: now,
    });
    await trx('whatsapp_phone_numbers')
      .where({ integration_id: integrationId, is_active: true })
      .update({ is_active: false, updated_at: now });
    await trx('whatsapp_business_accounts')
      .where({ integration_id: integrationId, is_active: true })
      .update({ is_active: false, updated_at: now });
  });
}

/** Meta no longer accepts the token: the dashboard must ask the business to connect again. */
export async function markNeedsReauth(db: Db, integrationId: string, reason: string): Promise<void> {
  const now = new Date();
  await db('channel_integrations')
    .where({ id: integrationId, is_active: true })
    .update({
      state: 'needs_reauth',
      token_health: 'needs_reauth',
      token_last_error: reason.slice(0, 500),
      token_checked_at: now,
      updated_at: now,
    });
}

/** Integrations counted by state and token health, for the metrics gauge. */
export async function integrationsByHealth(db: Db): Promise<Array<{ state: string; health: string; count: number }>> {
  const rows = await db('channel_integrations')
    .where({ channel: WHATSAPP })
    .select('state', 'token_health')
    .count<Array<{ state: string; token_health: string; count: number }>>('* as count')
    .groupBy('state', 'token_health');
  return rows.map((r) => ({ state: r.state, health: r.token_health, count: Number(r.count) }));
}

/** Active integrations, for reconcile. */
export async function activeIntegrations(db: Db): Promise<Array<{ id: string; business_id: string }>> {
  return db('channel_integrations').where({ channel: WHATSAPP, is_active: true }).select('id', 'business_id');
}

/** Whether the integration is active now (reconcile re-checks before it deletes anything). */
export async function isIntegrationActive(db: Db, integrationId: string): Promise<boolean> {
  return Boolean(await db('channel_integrations').where({ id: integrationId, is_active: true }).first('id'));
}

/**
 * A number's details as Meta answers them now (after an account event). A field Meta leaves out
 * keeps its value; the deprecated `messaging_limit_tier` is written as Meta reports it, null included.
 */
export async function updateNumberFromMeta(
  db: Db,
  integrationId: string,
  phoneNumberId: string,
  facts: {
    qualityRating?: string | undefined;
    messagingLimitTier?: string | null | undefined;
    businessMessagingLimit?: string | null | undefined;
    throughputLevel?: string | undefined;
    nameStatus?: string | undefined;
    verifiedName?: string | undefined;
  },
): Promise<void> {
  await db('whatsapp_phone_numbers')
    .where({ integration_id: integrationId, phone_number_id: phoneNumberId })
    .update({
      ...(facts.qualityRating ? { quality_rating: facts.qualityRating } : {}),
      ...(facts.messagingLimitTier !== undefined ? { messaging_limit_tier: facts.messagingLimitTier } : {}),
      ...(facts.businessMessagingLimit ? { business_messaging_limit: facts.businessMessagingLimit } : {}),
      ...(facts.throughputLevel ? { throughput_level: facts.throughputLevel } : {}),
      ...(facts.nameStatus ? { name_status: facts.nameStatus } : {}),
      ...(facts.verifiedName ? { verified_name: facts.verifiedName } : {}),
      updated_at: new Date(),
    });
}
