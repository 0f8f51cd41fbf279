// GET /status: the business's integration, accounts, numbers, token health and the connect in
// progress, with every field listed explicitly so a token can never slip into the answer.
import type { Client } from '@temporalio/client';
import type { Config } from '../config.js';
import type { Db } from '../db.js';
import { isConnectErrorCode, CONNECT_ERRORS } from '../errors.js';
import { numberSendRate } from '../meta/send-rate.js';
import { isCoexistence, syncsOf } from '../store/coexistence.js';
import { latestAttempt } from '../store/connect.js';
import { WHATSAPP } from '../store/integrations.js';
import { renewalDueAt } from '../policy/token-health.js';
import type { BusinessAppSyncRow, IntegrationRow } from '../store/tables.js';
import { nextTokenCheckAt } from '../temporal/schedules.js';
import { budgetsOf, registrationView, type RegistrationView } from '../store/registration.js';
import { connectProgressQuery, type ConnectProgress } from '../../workflows/connect-whatsapp.js';

export interface StatusView {
  connected: boolean;
  integration: {
    id: string;
    state: IntegrationRow['state'];
    connectedAt: string | null;
    /** Why and since when it is not active: disconnected, or removed at Meta (PARTNER_APP_UNINSTALLED...). */
    inactiveReason: string | null;
    inactiveSince: string | null;
    tokenHealth: {
      state: IntegrationRow['token_health'];
      expiresAt: string | null;
      checkedAt: string | null;
      lastError: string | null;
      /** user, system_user (expires, refreshed for 60 more days), business_integration (never expires), page, app, unknown; null until first read. */
      kind: string | null;
      /** When the schedule next checks the token (Temporal may start it up to an hour later). */
      nextCheckAt: string | null;
      /** From when a check renews it (expiry minus TOKEN_EXPIRY_THRESHOLD_DAYS); null for tokens that never expire. */
      refreshBy: string | null;
    };
  } | null;
  accounts: Array<{
    wabaId: string;
    name: string | null;
    /** ok, restricted, violation, disable_scheduled, disabled (Meta's account_update events), with Meta's detail. */
    accountStatus: { state: string; detail: Record<string, unknown> | null; since: string | null };
    /** Meta's ban_info of the last DISABLED_UPDATE (REINSTATE, SCHEDULE_FOR_DISABLE, DISABLE) and its date; null when none came. */
    ban: { state: string; date: string | null } | null;
    webhookSubscription: { state: string; checkedAt: string | null };
    phoneNumbers: Array<{
      phoneNumberId: string;
      displayPhoneNumber: string | null;
      verifiedName: string | null;
      qualityRating: string | null;
      /** Deprecated by Meta (null where Meta reports null); see whatsappBusinessManagerMessagingLimit. */
      messagingLimitTier: string | null;
      /** The business portfolio's messaging limit, shared by all its numbers (TIER_250 ... TIER_UNLIMITED). */
      whatsappBusinessManagerMessagingLimit: string | null;
      /** The portfolio's limit as the last webhook announced it. */
      maxDailyConversationsPerBusiness: string | null;
      /** Messages per second (STANDARD, HIGH, NOT_APPLICABLE): not the messaging limit. */
      throughputLevel: string | null;
      nameStatus: string | null;
      registration: RegistrationView;
      /** Messages per second Meta lets this number send (20 for coexistence numbers). */
      sendRate: { messagesPerSecond: number };
      /** Set for a number that stays on the WhatsApp Business app. */
      coexistence: {
        onboardedAt: string | null;
        /** Meta took the Cloud API side away (ACCOUNT_OFFBOARDED): nothing is answered on it. */
        offboardedAt: string | null;
        contactsSync: SyncView | null;
        historySync: SyncView | null;
      } | null;
    }>;
  }>;
  connect: {
    state: 'running' | 'failed';
    step: string | null;
    error: { code: string; message: string } | null;
    workflowId: string;
  } | null;
  /** The last Embedded Signup session the person abandoned (CANCEL or ERROR), for support. */
  lastAbandonedSignup: {
    event: string;
    step: string | null;
    errorMessage: string | null;
    errorCode: string | null;
    at: string;
  } | null;
}

interface SyncView {
  state: BusinessAppSyncRow['state'];
  requestedAt: string | null;
  deadline: string;
  attempts: number;
  lastError: string | null;
  progress: number | null;
  completedAt: string | null;
}

const syncView = (row: BusinessAppSyncRow | undefined): SyncView | null =>
  row
    ? {
        state: row.state,
        requestedAt: iso(row.requested_at),
        deadline: row.deadline_at.toISOString(),
        attempts: row.attempts,
        lastError: row.last_error,
        progress: row.progress,
        completedAt: iso(row.completed_at),
      }
    : null;

const FAILED_ATTEMPT_SHOWN_MS = 24 * 60 * 60 * 1000;

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

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

async function connectView(db: Db, temporal: Client, businessId: string): Promise<StatusView['connect']> {
  const attempt = await latestAttempt(db, businessId);
  if (!attempt || attempt.state === 'succeeded') return null;
  if (attempt.state === 'failed') {
    // The last attempt failed: worth showing for a day, then it is history.
    if (!attempt.finished_at || Date.now() - attempt.finished_at.getTime() > FAILED_ATTEMPT_SHOWN_MS) return null;
    const code = isConnectErrorCode(attempt.error_code) ? attempt.error_code : 'internal_error';
    return {
      state: 'failed',
      step: null,
      error: { code, message: CONNECT_ERRORS[code] },
      workflowId: attempt.workflow_id,
    };
  }
  let step: string | null = null;
  try {
    const progress: ConnectProgress = await temporal.connection.withDeadline(Date.now() + 1500, () =>
      temporal.workflow.getHandle(attempt.workflow_id).query(connectProgressQuery),
    );
    step = progress.step;
  } catch {
    // No worker has picked it up yet, or Temporal is unreachable: running, step unknown.
  }
  return { state: 'running', step, error: null, workflowId: attempt.workflow_id };
}

/** When token care next looks at the token, and from when it renews it. */
function tokenSchedule(integration: IntegrationRow, tokens: Config['tokens'] | undefined) {
  if (!tokens || !integration.is_active) return { nextCheckAt: null, refreshBy: null };
  const expiresAt = integration.token_expires_at;
  return {
    nextCheckAt: nextTokenCheckAt(integration.id, tokens.refreshIntervalMs).toISOString(),
    refreshBy: renewalDueAt(expiresAt, tokens.expiryThresholdDays)?.toISOString() ?? null,
  };
}

export async function readStatus(
  db: Db,
  temporal: Client,
  businessId: string,
  tokens?: Config['tokens'],
): Promise<StatusView> {
  const integration = await currentIntegration(db, businessId);
  const connect = await connectView(db, temporal, businessId);
  const abandoned = await db('signup_events')
    .where({ business_id: businessId })
    .whereIn('event', ['CANCEL', 'ERROR'])
    .orderBy('id', 'desc')
    .first();
  const lastAbandonedSignup = abandoned
    ? {
        event: abandoned.event,
        step: abandoned.current_step,
        errorMessage: abandoned.error_message,
        errorCode: abandoned.error_code,
        at: abandoned.created_at.toISOString(),
      }
    : null;
  if (!integration) return { connected: false, integration: null, accounts: [], connect, lastAbandonedSignup };

  const accounts = integration.is_active
    ? await db('whatsapp_business_accounts')
        .where({ integration_id: integration.id, is_active: true })
        .orderBy('created_at')
    : [];
  const numbers = integration.is_active
    ? await db('whatsapp_phone_numbers')
        .where({ integration_id: integration.id, is_active: true })
        .orderBy('display_phone_number')
    : [];
  const budgets = await budgetsOf(db, numbers);
  const syncs = await syncsOf(
    db,
    numbers.filter(isCoexistence).map((n) => n.id),
  );
  const syncOf = (rowId: string, type: BusinessAppSyncRow['sync_type']) =>
    syncView(syncs.find((r) => r.phone_number_row_id === rowId && r.sync_type === type));
  return {
    connected: integration.is_active && integration.state === 'active',
    integration: {
      id: integration.id,
      state: integration.state,
      connectedAt: iso(integration.connected_at),
      inactiveReason: integration.is_active ? null : integration.inactive_reason,
      inactiveSince: integration.is_active ? null : iso(integration.disconnected_at),
      tokenHealth: {
        state: integration.token_health,
        expiresAt: iso(integration.token_expires_at),
        checkedAt: iso(integration.token_checked_at),
        lastError: integration.token_last_error,
        kind: integration.token_kind,
        ...tokenSchedule(integration, tokens),
      },
    },
    accounts: accounts.map((a) => ({
      wabaId: a.waba_id,
      name: a.name,
      accountStatus: { state: a.account_status, detail: a.account_status_detail, since: iso(a.account_status_at) },
      ban: a.ban_state ? { state: a.ban_state, date: a.ban_date } : null,
      webhookSubscription: { state: a.subscription_state, checkedAt: iso(a.subscription_checked_at) },
      phoneNumbers: numbers
        .filter((n) => n.account_id === a.id)
        .map((n) => ({
          phoneNumberId: n.phone_number_id,
          displayPhoneNumber: n.display_phone_number,
          verifiedName: n.verified_name,
          qualityRating: n.quality_rating,
          messagingLimitTier: n.messaging_limit_tier,
          whatsappBusinessManagerMessagingLimit: n.business_messaging_limit,
          maxDailyConversationsPerBusiness: n.max_daily_conversations_per_business,
          throughputLevel: n.throughput_level,
          nameStatus: n.name_status,
          registration: registrationView(n, budgets.get(n.phone_number_id)),
          sendRate: {
            messagesPerSecond: numberSendRate({
              coexistence: isCoexistence(n),
              throughputLevel: n.throughput_level,
              limit: n.send_rate_limit_mps,
            }),
          },
          coexistence: isCoexistence(n)
            ? {
                onboardedAt: iso(n.coexistence_onboarded_at),
                offboardedAt: iso(n.coexistence_offboarded_at),
                contactsSync: syncOf(n.id, 'smb_app_state_sync'),
                historySync: syncOf(n.id, 'history'),
              }
            : null,
        })),
    })),
    connect,
    lastAbandonedSignup,
  };
}
