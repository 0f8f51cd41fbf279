// GET /api/integrations/whatsapp/status as it answers: the integration, its accounts and numbers,
// token health and the connect in progress, every field listed so a token can never slip in.
import { CONNECT_ERRORS } from '../../errors.js';
import { numberSendRate } from '../../meta/send-rate.js';
import type { ConnectState, IntegrationStatus } from '../../services/status.js';
import { isCoexistence } from '../../store/coexistence.js';
import { registrationView, type RegistrationView } from '../../store/registration.js';
import type { BusinessAppSyncRow, IntegrationRow } from '../../store/tables.js';

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

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

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

function connectView(connect: ConnectState | null): StatusView['connect'] {
  if (!connect) return null;
  if (connect.state === 'failed')
    return {
      state: 'failed',
      step: null,
      error: { code: connect.code, message: CONNECT_ERRORS[connect.code] },
      workflowId: connect.workflowId,
    };
  return { state: 'running', step: connect.step, error: null, workflowId: connect.workflowId };
}

export function integrationStatusView(status: IntegrationStatus): StatusView {
  const connect = connectView(status.connect);
  const abandoned = status.lastAbandonedSignup;
  const lastAbandonedSignup = abandoned
    ? {
        event: abandoned.event,
        step: abandoned.current_step,
        errorMessage: abandoned.error_message,
        errorCode: abandoned.error_code,
        at: abandoned.created_at.toISOString(),
      }
    : null;
  if (!status.current) return { connected: false, integration: null, accounts: [], connect, lastAbandonedSignup };

  const { integration, tokenSchedule, accounts, numbers, budgets, syncs } = status.current;
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
        nextCheckAt: iso(tokenSchedule.nextCheckAt),
        refreshBy: iso(tokenSchedule.refreshBy),
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
