// ConnectWhatsApp: exchange the code, upgrade the token, discover the granted accounts and numbers,
// subscribe our app to their webhooks, persist, register numbers (each outcome recorded on the
// number, never failing the connect), schedule token care.
// A failure after subscribing undoes the subscriptions, so nothing is left half-connected.
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  defineQuery,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
  TimeoutFailure,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { codeExchange, db, graphCall, pagedGraphCall, scheduleCall } from './policies.js';
import { registerNumbers } from './register-phone-number.js';
import type { DiscoveryHints } from '../activities/connect-types.js';
import { CONNECT_ERRORS, isConnectErrorCode, type ConnectErrorCode } from '../src/errors.js';
import { FailureType } from '../src/temporal/failure-types.js';
import { searchAttributes } from '../src/temporal/names.js';
import { DEFAULT_CALL_TIMEOUTS, type CallTimeouts } from '../src/temporal/timeouts.js';

export interface ConnectInput {
  businessId: string;
  flow: 'redirect' | 'popup';
  /** The redirect_uri of the OAuth dialog; null for Embedded Signup popup codes. */
  redirectUri: string | null;
  hints?: DiscoveryHints;
  /** The configured call timeouts; absent in executions started before they travelled here. */
  timeouts?: CallTimeouts;
}

export interface ConnectResult {
  integrationId: string;
  accounts: number;
  phoneNumbers: number;
}

export type ConnectStep =
  | 'exchanging_code'
  | 'upgrading_token'
  | 'discovering_accounts'
  | 'checking_numbers'
  | 'subscribing_webhooks'
  | 'registering_numbers'
  | 'saving'
  | 'scheduling_token_checks'
  | 'done'
  | 'failed';

export interface ConnectProgress {
  step: ConnectStep;
  error: { code: ConnectErrorCode; message: string } | null;
}

export const connectProgressQuery = defineQuery<ConnectProgress>('progress');

const { ensureTokenSchedule } = proxyActivities<Activities>(scheduleCall);
const { checkNumbersAvailable, persistIntegration, finishConnect, planRegistrations } = db;

/** The stable error code for whatever ended the connect. */
function connectErrorCode(error: unknown): ConnectErrorCode {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  if (cause instanceof ApplicationFailure) {
    if (isConnectErrorCode(cause.type)) return cause.type;
    if (cause.type === FailureType.transient) return 'meta_unavailable';
    if (cause.type === FailureType.reauth) return 'permission_denied';
  }
  if (cause instanceof TimeoutFailure) return 'meta_unavailable';
  return 'internal_error';
}

export async function connectWhatsApp(input: ConnectInput): Promise<ConnectResult> {
  const connectId = workflowInfo().workflowId;
  let progress: ConnectProgress = { step: 'exchanging_code', error: null };
  setHandler(connectProgressQuery, () => progress);
  const step = (next: ConnectStep) => (progress = { step: next, error: null });
  const subscribed: string[] = [];
  const timeouts = input.timeouts ?? DEFAULT_CALL_TIMEOUTS;
  const { exchangeCode } = proxyActivities<Activities>(codeExchange(timeouts));
  const { upgradeToken, subscribeApp, registerNumber } = proxyActivities<Activities>(graphCall(timeouts));
  const { discoverAccounts, unsubscribeUnused } = proxyActivities<Activities>(pagedGraphCall(timeouts));

  try {
    const exchanged = await exchangeCode({ connectId, redirectUri: input.redirectUri });
    if (exchanged.expiresAt !== null) {
      // Business tokens from Embedded Signup never expire and need no upgrade.
      step('upgrading_token');
      await upgradeToken({ connectId });
    }

    step('discovering_accounts');
    const discovery = await discoverAccounts({ connectId, ...(input.hints ? { hints: input.hints } : {}) });
    const numbers = discovery.accounts.flatMap((a) => a.phoneNumbers);

    step('checking_numbers');
    await checkNumbersAvailable({ businessId: input.businessId, phoneNumberIds: numbers.map((n) => n.phoneNumberId) });

    step('subscribing_webhooks');
    await Promise.all(
      discovery.accounts.map(async ({ wabaId }) => {
        await subscribeApp({ connectId, wabaId });
        subscribed.push(wabaId);
      }),
    );

    // Registration used to come before saving, so one refused number failed the whole connect.
    // Now it follows the save and each number's outcome is recorded on it, never failing the connect.
    const registerAfterSave = patched('register-numbers-after-save');
    const registered: string[] = [];
    if (!registerAfterSave) {
      step('registering_numbers');
      for (const number of numbers.filter((n) => n.platformType !== 'CLOUD_API')) {
        if (await registerNumber({ connectId, phoneNumberId: number.phoneNumberId }))
          registered.push(number.phoneNumberId);
      }
    }

    step('saving');
    const { integrationId } = await persistIntegration({
      connectId,
      businessId: input.businessId,
      discovery,
      subscribedWabaIds: subscribed,
      registeredNumberIds: registered,
    });
    upsertSearchAttributes([{ key: searchAttributes.integrationId, value: integrationId }]);

    if (registerAfterSave) {
      step('registering_numbers');
      try {
        await registerNumbers(await planRegistrations({ integrationId }), timeouts);
      } catch (error) {
        if (isCancellation(error)) throw error;
        // The integration is saved; status shows each number's registration as far as it got.
        log.warn('could not plan number registration', { error: String(error) });
      }
    }

    step('scheduling_token_checks');
    try {
      await ensureTokenSchedule({ integrationId, businessId: input.businessId });
    } catch (error) {
      // The integration is connected; the worker's reconcile step creates a missing schedule.
      log.warn('could not create the token schedule; reconcile will', { error: String(error) });
    }

    await finishConnect({ connectId, state: 'succeeded', integrationId });
    step('done');
    return { integrationId, accounts: discovery.accounts.length, phoneNumbers: numbers.length };
  } catch (error) {
    const code = isCancellation(error) ? 'internal_error' : connectErrorCode(error);
    progress = { step: 'failed', error: { code, message: CONNECT_ERRORS[code] } };
    await CancellationScope.nonCancellable(async () => {
      if (subscribed.length > 0) await unsubscribeUnused({ connectId, wabaIds: subscribed }).catch(() => undefined);
      await finishConnect({ connectId, state: 'failed', errorCode: code, errorMessage: CONNECT_ERRORS[code] });
    });
    if (isCancellation(error)) throw error;
    throw ApplicationFailure.create({ type: code, message: CONNECT_ERRORS[code], nonRetryable: true });
  }
}
