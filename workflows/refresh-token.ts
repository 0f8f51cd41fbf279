// RefreshToken: run by each integration's schedule (daily by default). Checks the token with
// debug_token; an invalid one flags the integration for re-auth, one that expires soon is exchanged
// once for a longer one, one that never expires is only checked. It also confirms our app is
// still subscribed to each account's webhooks and subscribes again when it is not.
import { ActivityFailure, ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { DEFAULT_CALL_TIMEOUTS, type CallTimeouts } from '../src/temporal/timeouts.js';
import { FailureType, permanentFailure } from '../src/temporal/failure-types.js';
import { db, graphCall, pagedGraphCall, tokenCheckPatience } from './policies.js';

export interface RefreshTokenInput {
  integrationId: string;
  timeouts?: CallTimeouts;
}

export type RefreshTokenResult =
  | { outcome: 'inactive' }
  | { outcome: 'needs_reauth' }
  | { outcome: 'ok'; expiresAt: string | null }
  | { outcome: 'refreshed'; expiresAt: string }
  | { outcome: 'expiring'; expiresAt: string };

const { recordTokenCheck, recordFailedTokenCheck } = db;

export async function refreshToken(input: RefreshTokenInput): Promise<RefreshTokenResult> {
  const { integrationId } = input;
  const timeouts = input.timeouts ?? DEFAULT_CALL_TIMEOUTS;
  const { inspectToken, refreshLongLivedToken } = proxyActivities<Activities>({
    ...graphCall(timeouts),
    ...tokenCheckPatience,
  });
  const { verifySubscriptions } = proxyActivities<Activities>({
    ...pagedGraphCall(timeouts),
    ...tokenCheckPatience,
    scheduleToCloseTimeout: '30m',
  });
  try {
    const token = await inspectToken({ integrationId });
    if (token.status === 'inactive') return { outcome: 'inactive' };
    if (token.status === 'invalid') {
      await recordTokenCheck({ integrationId, health: 'needs_reauth', error: token.reason });
      return { outcome: 'needs_reauth' };
    }
    // A valid token that lost its webhook subscription would show "connected" while no message arrives.
    await verifySubscriptions({ integrationId });
    if (token.expiresAt === null || !token.expiresSoon) {
      await recordTokenCheck({ integrationId, health: 'ok', expiresAt: token.expiresAt });
      return { outcome: 'ok', expiresAt: token.expiresAt };
    }
    const refreshed = await refreshLongLivedToken({ integrationId, currentExpiresAt: token.expiresAt });
    if (refreshed.extended) {
      await recordTokenCheck({ integrationId, health: 'ok', expiresAt: refreshed.expiresAt });
      return { outcome: 'refreshed', expiresAt: refreshed.expiresAt };
    }
    // Meta would not extend it: the dashboard asks for a reconnect before it runs out.
    await recordTokenCheck({ integrationId, health: 'expiring', expiresAt: refreshed.expiresAt });
    return { outcome: 'expiring', expiresAt: refreshed.expiresAt };
  } catch (error) {
    const cause = error instanceof ActivityFailure ? error.cause : error;
    if (cause instanceof ApplicationFailure && cause.type === FailureType.reauth) {
      await recordTokenCheck({ integrationId, health: 'needs_reauth', error: cause.message });
      return { outcome: 'needs_reauth' };
    }
    const reason = cause instanceof Error ? cause.message : String(cause);
    await recordFailedTokenCheck({ integrationId, reason });
    throw permanentFailure(FailureType.tokenCheckFailed, `token check failed: ${reason}`);
  }
}
