// Activities that call Meta's Graph API. Each is safe to retry: it first looks at what an earlier
// attempt already achieved (staged tokens), and Meta's own operations here are idempotent.
import type { ApplicationFailure } from '@temporalio/common';
import { GraphError } from '../src/meta/graph-errors.js';
import {
  abandonReply,
  completeReply,
  reserveReply,
  sendingIntegration,
  type Reservation,
} from '../src/store/replies.js';
import type { DebugToken, PhoneNumber } from '../src/meta/graph-client.js';
import { requestIntegrationTemplateSyncs } from '../src/store/template-catalogue.js';
import { templateSyncStart } from '../src/temporal/names.js';
import { dropStaged, readStaged, readStagedToken, stageSecret } from '../src/store/staging.js';
import {
  activeAccountsOf,
  recordSubscriptionChecked,
  recordSubscriptionRestored,
  wabaIdsOf,
} from '../src/store/accounts.js';
import {
  isIntegrationActive,
  readIntegrationToken,
  readTokenKind,
  recordTokenKind,
  storeIntegrationToken,
  updateNumberFromMeta,
  wabaUsedByOthers,
  type DiscoveredAccount,
} from '../src/store/integrations.js';
import { renewalOf, tokenKindOf } from '../src/meta/token-kinds.js';
import { expiresSoon } from '../src/policy/token-health.js';
import { FailureType, permanentFailure } from '../src/temporal/failure-types.js';
import { graphActivity, toActivityFailure } from '../src/temporal/failures.js';
import type { Discovery, DiscoveryHints, ExchangedToken } from './connect-types.js';
import type { ActivityDeps } from './deps.js';
import { sendThroughMeta } from './meta-send.js';
import { releaseSend } from '../src/store/turns.js';
import type { SendOutcome, SendReplyInput } from './message-types.js';
import type { TokenInspection } from './token-types.js';

/** Scope names under which debug_token lists the granted WhatsApp Business Accounts. */
const WABA_SCOPES = new Set(['whatsapp_business_management', 'whatsapp_business_manage_events']);

function expiresAtFrom(expiresInSeconds: number | undefined, now = Date.now()): Date | null {
  return expiresInSeconds && expiresInSeconds > 0 ? new Date(now + expiresInSeconds * 1000) : null;
}

function toDiscoveredNumber(n: PhoneNumber) {
  return {
    phoneNumberId: n.id,
    displayPhoneNumber: n.display_phone_number ?? null,
    verifiedName: n.verified_name ?? null,
    qualityRating: n.quality_rating ?? null,
    messagingLimitTier: n.messaging_limit_tier ?? null,
    businessMessagingLimit: n.whatsapp_business_manager_messaging_limit ?? null,
    throughputLevel: n.throughput?.level ?? null,
    nameStatus: n.name_status ?? null,
    codeVerificationStatus: n.code_verification_status ?? null,
    platformType: n.platform_type ?? null,
    status: n.status ?? null,
    isOnBizApp: n.is_on_biz_app ?? false,
  };
}

/** What a reply row of the older message path keeps of Meta's refusal. */
function legacyDetail(error: GraphError) {
  return {
    reason: 'meta_error',
    operation: error.operation,
    status: error.status ?? null,
    code: error.code ?? null,
    message: error.message,
  };
}

export function createMetaActivities(deps: ActivityDeps) {
  const { db, graph, config } = deps;
  const keyring = config.keyring;

  async function stagedToken(connectId: string): Promise<string> {
    const token = await readStagedToken(db, keyring, connectId);
    if (!token) throw permanentFailure('internal_error', 'no staged token for this connect');
    return token.value;
  }

  return {
    /**
     * Exchanges the staged authorization code for a token, once: a retry after success finds the
     * staged token and never spends the code a second time.
     */
    async exchangeCode(input: { connectId: string; redirectUri: string | null }): Promise<ExchangedToken> {
      const already = await readStaged(db, keyring, input.connectId, 'user_token');
      if (already) return { expiresAt: already.expiresAt?.toISOString() ?? null };
      const code = await readStaged(db, keyring, input.connectId, 'code');
      if (!code) throw permanentFailure('code_expired', 'the authorization code is no longer staged');
      const answer = await graphActivity(async () => {
        try {
          return await graph.exchangeCode(code.value, input.redirectUri ?? undefined);
        } catch (error) {
          // Meta answers an unknown or malformed code with a bare 100: for the person it is an
          // expired authorization (36008, a redirect_uri mismatch, stays our configuration error).
          if (
            error instanceof GraphError &&
            error.kind === 'invalid' &&
            error.code === 100 &&
            error.subcode !== 36008
          ) {
            throw permanentFailure('code_expired', error.summary);
          }
          throw error;
        }
      });
      const expiresAt = expiresAtFrom(answer.expires_in);
      await stageSecret(db, keyring, input.connectId, 'user_token', answer.access_token, expiresAt);
      await dropStaged(db, input.connectId, 'code');
      return { expiresAt: expiresAt?.toISOString() ?? null };
    },

    /** Upgrades a short-lived user token to a long-lived one (about 60 days). */
    async upgradeToken(input: { connectId: string }): Promise<ExchangedToken> {
      const already = await readStaged(db, keyring, input.connectId, 'long_lived_token');
      if (already) return { expiresAt: already.expiresAt?.toISOString() ?? null };
      const user = await readStaged(db, keyring, input.connectId, 'user_token');
      if (!user) throw permanentFailure('internal_error', 'no staged user token for this connect');
      const answer = await graphActivity(() => graph.exchangeForLongLived(user.value));
      const expiresAt = expiresAtFrom(answer.expires_in);
      await stageSecret(db, keyring, input.connectId, 'long_lived_token', answer.access_token, expiresAt);
      return { expiresAt: expiresAt?.toISOString() ?? null };
    },

    /**
     * Finds the WhatsApp Business Accounts the person granted, and their numbers: debug_token's
     * granular scopes first; /me/businesses (owned and client accounts) only where those are absent.
     * Hints from an Embedded Signup session narrow the result but are never trusted alone.
     */
    async discoverAccounts(input: { connectId: string; hints?: DiscoveryHints }): Promise<Discovery> {
      const token = await stagedToken(input.connectId);
      return graphActivity(async () => {
        const debug: DebugToken = await graph.debugToken(token);
        if (!debug.is_valid)
          throw permanentFailure(
            'permission_denied',
            `Meta reports the new token as invalid (${debug.error?.code ?? 'no code'})`,
          );
        let wabaIds = [
          ...new Set(
            (debug.granular_scopes ?? []).filter((s) => WABA_SCOPES.has(s.scope)).flatMap((s) => s.target_ids ?? []),
          ),
        ];
        let wabas: Array<{
          id: string;
          name?: string | undefined;
          currency?: string | undefined;
          timezone_id?: string | undefined;
        }>;
        if (wabaIds.length > 0) {
          wabas = await Promise.all(wabaIds.map((id) => graph.getWaba(token, id)));
        } else {
          const businesses = await graph.listBusinesses(token);
          const lists = await Promise.all(
            businesses.flatMap((b) => [graph.listOwnedWabas(token, b.id), graph.listClientWabas(token, b.id)]),
          );
          const byId = new Map(lists.flat().map((w) => [w.id, w]));
          wabas = [...byId.values()];
          wabaIds = wabas.map((w) => w.id);
        }
        if (input.hints?.wabaId) {
          if (!wabaIds.includes(input.hints.wabaId))
            throw permanentFailure(
              'permission_denied',
              'the account from the signup session is not visible to the token',
            );
          wabas = wabas.filter((w) => w.id === input.hints!.wabaId);
        }
        const accounts: DiscoveredAccount[] = [];
        for (const waba of wabas) {
          const numbers = await graph.listPhoneNumbers(token, waba.id);
          accounts.push({
            wabaId: waba.id,
            name: waba.name ?? null,
            currency: waba.currency ?? null,
            timezoneId: waba.timezone_id ?? null,
            phoneNumbers: numbers.map(toDiscoveredNumber),
          });
        }
        if (
          input.hints?.phoneNumberId &&
          !accounts.some((a) => a.phoneNumbers.some((n) => n.phoneNumberId === input.hints!.phoneNumberId))
        ) {
          throw permanentFailure(
            'permission_denied',
            'the phone number from the signup session is not visible to the token',
          );
        }
        if (!accounts.some((a) => a.phoneNumbers.length > 0))
          throw permanentFailure('no_whatsapp_account', 'no WhatsApp Business account with a phone number was granted');
        return { metaUserId: debug.user_id ?? null, tokenType: debug.type ?? 'USER', accounts };
      });
    },

    /** Subscribes our app to an account's webhooks (idempotent at Meta). */
    async subscribeApp(input: { connectId: string; wabaId: string }): Promise<void> {
      const token = await stagedToken(input.connectId);
      await graphActivity(() => graph.subscribeApp(token, input.wabaId));
    },

    /**
     * Connects started before registration moved after saving still call this. There is no global
     * PIN any more (each number has its own): it registers nothing, and the numbers get their
     * state from the decision table when status reads them.
     */
    async registerNumber(_input: { connectId: string; phoneNumberId: string }): Promise<boolean> {
      return false;
    },

    /**
     * Tells Meta to stop sending this integration's webhooks, for each account no other active
     * integration uses. A token Meta no longer accepts cannot unsubscribe: nothing more to do then.
     */
    async unsubscribeIntegration(input: {
      integrationId: string;
    }): Promise<{ unsubscribed: string[]; skipped: string[] }> {
      const token = await readIntegrationToken(db, keyring, input.integrationId);
      const result = { unsubscribed: [] as string[], skipped: [] as string[] };
      for (const wabaId of await wabaIdsOf(db, input.integrationId)) {
        if (!token || (await wabaUsedByOthers(db, wabaId, input.integrationId))) {
          result.skipped.push(wabaId);
          continue;
        }
        try {
          await graphActivity(() => graph.unsubscribeApp(token, wabaId));
          result.unsubscribed.push(wabaId);
        } catch (error) {
          if ((error as ApplicationFailure).type === FailureType.transient) throw error;
          result.skipped.push(wabaId);
        }
      }
      return result;
    },

    /**
     * Asks Meta about the integration's token (debug_token with the app token). Says whether it is
     * valid, when it expires (null: never), and whether that falls within the refresh threshold.
     */
    async inspectToken(input: { integrationId: string }): Promise<TokenInspection> {
      const active = await isIntegrationActive(db, input.integrationId);
      const token = active ? await readIntegrationToken(db, keyring, input.integrationId) : undefined;
      if (!token) return { status: 'inactive' };
      const debug = await graphActivity(() => graph.debugToken(token));
      if (!debug.is_valid) {
        const reason = `Meta reports the token invalid (code ${debug.error?.code ?? '?'}${debug.error?.subcode ? `/${debug.error.subcode}` : ''})`;
        return { status: 'invalid', reason };
      }
      const expiresAt = debug.expires_at && debug.expires_at > 0 ? new Date(debug.expires_at * 1000) : null;
      // The kind decides what refreshLongLivedToken does with the token; status shows it.
      const kind = tokenKindOf(debug.type, expiresAt);
      await recordTokenKind(db, input.integrationId, { type: debug.type ?? null, kind });
      return {
        status: 'valid',
        kind,
        expiresAt: expiresAt?.toISOString() ?? null,
        expiresSoon: expiresSoon(expiresAt, config.tokens.expiryThresholdDays),
      };
    },

    /**
     * Renews a token about to expire, as its kind (read by inspectToken just before) asks: an
     * expiring system-user token is refreshed with set_token_expires_in_60_days=true (60 more
     * days); a user token gets one plain fb_exchange_token, for which Meta documents no extension of
     * a long-lived token, so the answer may keep the old expiry: the caller then reports `expiring`.
     */
    async refreshLongLivedToken(input: {
      integrationId: string;
      currentExpiresAt: string;
    }): Promise<{ extended: boolean; expiresAt: string }> {
      const token = await readIntegrationToken(db, keyring, input.integrationId);
      if (!token) throw permanentFailure(FailureType.integrationInactive, 'the integration has no token any more');
      const kind = (await readTokenKind(db, input.integrationId)) ?? 'unknown';
      const expiresIn60Days = renewalOf(kind, new Date(input.currentExpiresAt)) === 'refresh_60_days';
      const answer = await graphActivity(() => graph.exchangeForLongLived(token, { expiresIn60Days }));
      const newExpiry = answer.expires_in ? new Date(Date.now() + answer.expires_in * 1000) : null;
      const current = new Date(input.currentExpiresAt);
      // Only a token that really lives longer replaces the stored one.
      if (newExpiry === null || newExpiry.getTime() > current.getTime() + 60_000) {
        await storeIntegrationToken(db, keyring, input.integrationId, {
          value: answer.access_token,
          expiresAt: newExpiry,
        });
        return { extended: true, expiresAt: (newExpiry ?? current).toISOString() };
      }
      return { extended: false, expiresAt: current.toISOString() };
    },

    /** Reads a number's quality, messaging limit, throughput and name review from Meta after an event about it. */
    async refreshNumberDetails(input: { integrationId: string; phoneNumberId: string }): Promise<void> {
      const token = await readIntegrationToken(db, keyring, input.integrationId);
      if (!token) return;
      const number = await graphActivity(() => graph.getPhoneNumber(token, input.phoneNumberId));
      await updateNumberFromMeta(db, input.integrationId, input.phoneNumberId, {
        qualityRating: number.quality_rating,
        messagingLimitTier: number.messaging_limit_tier,
        businessMessagingLimit: number.whatsapp_business_manager_messaging_limit,
        throughputLevel: number.throughput?.level,
        nameStatus: number.name_status,
        verifiedName: number.verified_name,
      });
    },

    /**
     * Part of the scheduled health check: our app must still be subscribed to each account's
     * webhooks ("shows connected, but no messages arrive"). A missing subscription is restored
     * and recorded.
     */
    async verifySubscriptions(input: { integrationId: string }): Promise<{ restored: string[]; ok: string[] }> {
      const token = await readIntegrationToken(db, keyring, input.integrationId);
      const result = { restored: [] as string[], ok: [] as string[] };
      if (!token) return result;
      for (const account of await activeAccountsOf(db, input.integrationId)) {
        const subscribed = await graphActivity(() => graph.isAppSubscribed(token, account.waba_id));
        const now = new Date();
        if (subscribed) {
          result.ok.push(account.waba_id);
          await recordSubscriptionChecked(db, account, now);
          continue;
        }
        await graphActivity(() => graph.subscribeApp(token, account.waba_id));
        result.restored.push(account.waba_id);
        await recordSubscriptionRestored(db, account.id, now);
      }
      // The daily token care also refreshes the template catalogue (the outbox starts the syncs).
      await requestIntegrationTemplateSyncs(db, input.integrationId, templateSyncStart(config.temporal.taskQueue));
      return result;
    },

    /** Marks an inbound message read at Meta (best effort: the reply matters more). */
    async markMessageRead(input: { integrationId: string; phoneNumberId: string; wamid: string }): Promise<void> {
      const token = await readIntegrationToken(db, keyring, input.integrationId);
      if (!token) return;
      try {
        await graph.markRead(token, input.phoneNumberId, input.wamid);
      } catch (error) {
        if (error instanceof GraphError && error.kind === 'transient') throw toActivityFailure(error);
        // Anything permanent (an invalid token included) is the send step's business.
      }
    },

    /**
     * Sends the reply exactly once. The reply row (reserved before the call, completed with Meta's
     * id after) survives retries and redeliveries; an attempt whose outcome is unknown is settled
     * by Meta's status webhook before anything is sent again. Replies of one conversation leave in
     * the order the customer wrote.
     */
    async sendReply(input: SendReplyInput): Promise<SendOutcome> {
      const integration = await sendingIntegration(db, input.integrationId, input.phoneNumberId);
      if (!integration?.is_active || integration.state !== 'active') {
        const reason = integration?.state === 'needs_reauth' ? 'needs_reauth' : 'integration_inactive';
        await abandonReply(db, null, input.inboundId, 'unanswered', { reason });
        return { outcome: 'unanswered', reason };
      }
      const draft = { inboundId: input.inboundId, text: input.text, responder: input.responder };
      const reservation: Reservation = await reserveReply(db, draft, config.reply.unknownOutcomeGraceMs);
      // Not our turn yet: say so at once. The workflow waits on a timer, so a waiting reply never
      // holds an activity slot that the message it waits for may need.
      if (reservation.kind === 'wait') return { outcome: 'wait', reason: reservation.reason };
      if (reservation.kind === 'done') return { outcome: 'replied', wamid: reservation.wamid };

      const result = await sendThroughMeta(deps, {
        integrationId: input.integrationId,
        phoneNumberId: input.phoneNumberId,
        number: integration.number,
        recipient: input.to,
        call: (token) =>
          graph.sendText(token, input.phoneNumberId, { to: input.to, body: input.text, replyTo: input.replyTo }),
        release: (outcome, why) =>
          releaseSend(db, reservation.replyId, outcome, 'error' in why ? legacyDetail(why.error) : why),
      });
      if ('noToken' in result) {
        await abandonReply(db, reservation.replyId, input.inboundId, 'unanswered', { reason: 'integration_inactive' });
        return { outcome: 'unanswered', reason: 'integration_inactive' };
      }
      if ('refused' in result) {
        const error = result.refused;
        const detail = legacyDetail(error);
        const unanswered =
          error.kind === 'reauth' ? 'needs_reauth' : error.kind === 'window_closed' ? 'outside_24h_window' : undefined;
        if (unanswered) {
          await abandonReply(db, reservation.replyId, input.inboundId, 'unanswered', { ...detail, reason: unanswered });
          return { outcome: 'unanswered', reason: unanswered };
        }
        await abandonReply(db, reservation.replyId, input.inboundId, 'failed', detail);
        return { outcome: 'failed', reason: error.summary };
      }
      const messageId = result.sent;
      // Meta accepted it: from here the wamid must not be lost. If PostgreSQL is away right now,
      // the wamid travels in the activity result (Temporal's history) and the workflow records it.
      try {
        await completeReply(db, reservation.replyId, input.inboundId, messageId);
        return { outcome: 'replied', wamid: messageId };
      } catch {
        return {
          outcome: 'replied',
          wamid: messageId,
          unrecorded: { replyId: reservation.replyId, inboundId: input.inboundId },
        };
      }
    },

    /** Records a reply Meta accepted whose row could not be completed at the time. */
    async recordReplySent(input: { replyId: number; inboundId: number; wamid: string }): Promise<void> {
      await completeReply(db, input.replyId, input.inboundId, input.wamid);
    },

    /**
     * Compensation for a connect that failed after subscribing: unsubscribes the accounts that no
     * active integration uses. Best effort: an unusable token cannot unsubscribe anything.
     */
    async unsubscribeUnused(input: { connectId: string; wabaIds: string[] }): Promise<string[]> {
      const token = await readStagedToken(db, keyring, input.connectId);
      if (!token) return [];
      const done: string[] = [];
      for (const wabaId of input.wabaIds) {
        if (await wabaUsedByOthers(db, wabaId, null)) continue;
        await graphActivity(() => graph.unsubscribeApp(token.value, wabaId)).catch((error: unknown) => {
          if ((error as ApplicationFailure).type === FailureType.transient) throw error;
        });
        done.push(wabaId);
      }
      return done;
    },
  };
}
