// Activities that read and write PostgreSQL.
import { hostname } from 'node:os';
import { log } from '@temporalio/activity';
import { attemptIntegrationId, recordAttemptFinished, recordAttemptIntegration } from '../src/store/connect.js';
import {
  destroyCredentials,
  markNeedsReauth,
  NumberInUseError,
  numbersActiveElsewhere,
  persistConnectedIntegration,
  recordTokenCheckFailed,
  recordTokenHealth,
} from '../src/store/integrations.js';
import { dropStaged, readStagedToken } from '../src/store/staging.js';
import type { AccountEvent, InboundMessage, StatusEvent } from '../src/meta/webhook-payload.js';
import { applyAccountEvent, businessesThatLeft, type AccountEventEffect } from '../src/store/account-events.js';
import { insertErasures } from '../src/store/erasures.js';
import {
  isOurMessage,
  recordStatuses,
  setInboundStatus,
  storeInboundMessage,
  type InboundStatus,
} from '../src/store/messages.js';
import type { Discovery } from './connect-types.js';
import type { InboundDecision } from './message-types.js';
import type { ActivityDeps } from './deps.js';
import { checkSubscribedFields, type WebhookFieldsCheck } from '../src/meta/webhook-fields.js';
import { recordSelfCheckRow } from '../src/store/self-checks.js';
import { workflowTypes, businessAppSyncWorkflowId, erasureStart, templateSyncStart } from '../src/temporal/names.js';
import { FailureType, permanentFailure } from '../src/temporal/failure-types.js';
import { autoReplyText, chosenResponder } from '../src/policy/responder.js';
import { answerBlocker, messageDecision } from '../src/policy/reply-decision.js';

/** What the SelfCheck workflow returns, unchanged from this activity. */
export interface SelfCheckResult {
  workerIdentity: string;
  checkedAt: string;
  /** Absent in results recorded before the check existed. */
  webhookFields?: WebhookFieldsCheck;
}

const numberInUse = () => permanentFailure('number_in_use', 'a granted phone number is active under another business');

/**
 * The Graph call must end well inside the activity's 10 s start-to-close timeout (set by the
 * SelfCheck workflow, which must not change), so a slow Meta yields a reason, not a retried activity.
 */
const SELF_CHECK_GRAPH_TIMEOUT_MS = 4_000;

export function createStoreActivities({ db, config, metrics, graph }: ActivityDeps) {
  return {
    /**
     * Writes one row per self check, proving a worker reached the database (idempotent on checkId),
     * then reads the app's webhook subscriptions at Meta and names the listed fields it lacks. The
     * SelfCheck workflow returns this result as it is, so `webhookFields` reaches `npm run selfcheck`
     * without a workflow change; a Meta that cannot be asked makes it a reason, never a failed check.
     */
    async recordSelfCheck(checkId: string): Promise<SelfCheckResult> {
      const row = await recordSelfCheckRow(db, checkId, `${process.pid}@${hostname()}`);
      let webhookFields: WebhookFieldsCheck;
      try {
        webhookFields = checkSubscribedFields(await graph.appSubscriptions({ timeoutMs: SELF_CHECK_GRAPH_TIMEOUT_MS }));
      } catch (error) {
        webhookFields = { checked: false, reason: (error as Error).message.slice(0, 300) };
      }
      return { workerIdentity: row.workerIdentity, checkedAt: row.checkedAt, webhookFields };
    },

    /** Fails with number_in_use before anything is subscribed at Meta for numbers of another business. */
    async checkNumbersAvailable(input: { businessId: string; phoneNumberIds: string[] }): Promise<void> {
      const conflicts = await numbersActiveElsewhere(db, input.businessId, input.phoneNumberIds);
      if (conflicts.length > 0) throw numberInUse();
    },

    /** Persists the integration with its accounts and numbers, and moves the token out of staging. */
    async persistIntegration(input: {
      connectId: string;
      businessId: string;
      discovery: Discovery;
      subscribedWabaIds: string[];
      registeredNumberIds: string[];
    }): Promise<{ integrationId: string }> {
      const token = await readStagedToken(db, config.keyring, input.connectId);
      if (!token) {
        // A retry after a successful persist: the staging rows are gone, the integration is there.
        const integrationId = await attemptIntegrationId(db, input.connectId);
        if (integrationId) return { integrationId };
        throw permanentFailure('internal_error', 'no staged token to persist');
      }
      try {
        const result = await persistConnectedIntegration(db, config.keyring, {
          businessId: input.businessId,
          metaUserId: input.discovery.metaUserId,
          token: { value: token.value, expiresAt: token.expiresAt, type: input.discovery.tokenType },
          accounts: input.discovery.accounts,
          subscribedWabaIds: input.subscribedWabaIds,
          registeredNumberIds: input.registeredNumberIds,
          expiryThresholdDays: config.tokens.expiryThresholdDays,
          businessAppSync: {
            taskQueue: config.temporal.taskQueue,
            workflowType: workflowTypes.syncBusinessAppData,
            workflowId: businessAppSyncWorkflowId,
          },
          templateSync: templateSyncStart(config.temporal.taskQueue),
        });
        await recordAttemptIntegration(db, input.connectId, result.integrationId);
        await dropStaged(db, input.connectId);
        log.info('integration persisted', {
          businessId: input.businessId,
          integrationId: result.integrationId,
          accounts: input.discovery.accounts.length,
          phoneNumbers: input.discovery.accounts.reduce((n, a) => n + a.phoneNumbers.length, 0),
        });
        return result;
      } catch (error) {
        if (error instanceof NumberInUseError) throw numberInUse();
        throw error;
      }
    },

    /** Destroys the token ciphertext of an integration that is no longer active. */
    async destroyCredentials(input: { integrationId: string }): Promise<void> {
      await destroyCredentials(db, input.integrationId);
    },

    /**
     * Stores an inbound message once and decides what to do with it: ignore (no active integration
     * for its number), stop (already handled, needs re-auth, outside the 24-hour window, nothing to
     * answer), or reply.
     */
    async storeInbound(message: InboundMessage): Promise<InboundDecision> {
      let stored;
      try {
        stored = await storeInboundMessage(db, message);
      } catch (error) {
        // A data exception (class 22) will fail the same way on every retry: say so once.
        if (String((error as { code?: unknown }).code ?? '').startsWith('22')) {
          throw permanentFailure(
            FailureType.unstorableMessage,
            `PostgreSQL refused the message: ${(error as Error).message}`,
          );
        }
        throw error;
      }
      const messageId = stored.messageId;
      if (!stored.integration) {
        log.info('message for a number with no active integration: ignored', { messageId });
        metrics.messageOutcome('ignored_unknown_number');
        return { action: 'stop', messageId, reason: 'ignored' };
      }
      if (stored.status !== 'received') return { action: 'stop', messageId, reason: 'already_handled' };
      const stop = async (reason: 'needs_reauth' | 'outside_24h_window' | 'no_reply_needed', status: InboundStatus) => {
        await setInboundStatus(db, messageId, status, status === 'no_reply' ? null : { reason });
        metrics.messageOutcome(reason);
        return { action: 'stop' as const, messageId, reason };
      };
      if (stored.integration.state === 'needs_reauth') return stop('needs_reauth', 'unanswered');
      const decided = messageDecision(message, Date.now());
      if (decided.status === 'unanswered') return stop('outside_24h_window', 'unanswered');
      if (decided.status !== 'received') return stop('no_reply_needed', 'no_reply');
      const blocked = await answerBlocker({ is_active: true, state: stored.integration.state }, message, (wamid) =>
        isOurMessage(db, wamid),
      );
      if (blocked) return stop('no_reply_needed', 'no_reply');
      const settings = stored.integration.settings ?? {};
      return {
        action: 'reply',
        messageId,
        integrationId: stored.integration.id,
        businessId: stored.integration.businessId,
        responder: chosenResponder(settings, Boolean(config.reply.webhookUrl)),
        autoReplyText: autoReplyText(settings, config.reply.defaultText),
      };
    },

    async closeInbound(input: {
      messageId: number;
      status: InboundStatus;
      error?: Record<string, unknown>;
    }): Promise<void> {
      await setInboundStatus(db, input.messageId, input.status, input.error ?? null);
    },

    /** Records a webhook's delivery statuses, once each, and moves reply rows forward. */
    async recordStatusEvents(events: StatusEvent[]): Promise<{ recorded: number; applied: number }> {
      return recordStatuses(db, events);
    },

    /** Records the outcome of a token check on the integration (what status shows as token health). */
    async recordTokenCheck(input: {
      integrationId: string;
      health: 'ok' | 'expiring' | 'needs_reauth';
      expiresAt?: string | null;
      error?: string;
    }): Promise<void> {
      if (input.health === 'needs_reauth') {
        await markNeedsReauth(db, input.integrationId, input.error ?? 'Meta reports the token invalid');
        return;
      }
      await recordTokenHealth(db, input.integrationId, { health: input.health, expiresAt: input.expiresAt });
    },

    /** A check that kept failing: status shows when and why; the health itself is left as it was. */
    async recordFailedTokenCheck(input: { integrationId: string; reason: string }): Promise<void> {
      await recordTokenCheckFailed(db, input.integrationId, input.reason);
    },

    /** Applies one of Meta's account events, once (see src/store/account-events.ts). */
    async recordAccountEvent(event: AccountEvent): Promise<AccountEventEffect> {
      // With DELETE_DATA_ON_DISCONNECT, a business Meta removed or offboarded is erased (its
      // erasure's start waits in the outbox, which the drain starts).
      const effect = await applyAccountEvent(
        db,
        event,
        config.erasure.deleteOnDisconnect
          ? {
              onApplied: async (trx, applied) => {
                const businesses = await businessesThatLeft(trx, applied);
                await insertErasures(
                  trx,
                  config.keyring,
                  erasureStart(config.temporal.taskQueue),
                  businesses.map((businessId) => ({
                    businessId,
                    subject: { kind: 'business' as const },
                    source: 'account_event' as const,
                  })),
                );
              },
            }
          : {},
      );
      if (effect.kind !== 'duplicate')
        log.info('account event recorded', { wabaId: event.wabaId, field: event.field, effect: effect.kind });
      return effect;
    },

    /** Records how a connect ended and removes whatever it still had staged. */
    async finishConnect(input: {
      connectId: string;
      state: 'succeeded' | 'failed';
      errorCode?: string;
      errorMessage?: string;
      integrationId?: string;
    }): Promise<void> {
      const { connectId, ...outcome } = input;
      await recordAttemptFinished(db, connectId, outcome);
      await dropStaged(db, connectId);
    },
  };
}
