// DisconnectWhatsApp: the API has already deactivated the integration; this deletes its schedule,
// cancels its running work, tells Meta to stop sending its webhooks, then destroys the token.
import { log, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { DEFAULT_CALL_TIMEOUTS, type CallTimeouts } from '../src/temporal/timeouts.js';
import { db, pagedGraphCall, temporalCall } from './policies.js';

export interface DisconnectInput {
  integrationId: string;
  businessId: string;
  timeouts?: CallTimeouts;
}

export interface DisconnectResult {
  unsubscribed: string[];
  skipped: string[];
}

const { cancelIntegrationWork, deleteTokenSchedule } = proxyActivities<Activities>(temporalCall);
const { destroyCredentials } = db;

export async function disconnectWhatsApp(input: DisconnectInput): Promise<DisconnectResult> {
  const { unsubscribeIntegration } = proxyActivities<Activities>(
    pagedGraphCall(input.timeouts ?? DEFAULT_CALL_TIMEOUTS),
  );
  // Nothing may call Meta with this token any more: no scheduled checks, no replies in flight.
  await deleteTokenSchedule({ integrationId: input.integrationId });
  await cancelIntegrationWork({ integrationId: input.integrationId });
  let result: DisconnectResult = { unsubscribed: [], skipped: [] };
  try {
    result = await unsubscribeIntegration({ integrationId: input.integrationId });
  } catch (error) {
    // Meta kept failing for minutes: the token is destroyed anyway; webhooks Meta still sends
    // for these numbers are recorded as ignored.
    log.warn('could not unsubscribe at Meta; destroying the token regardless', { error: String(error) });
  }
  await destroyCredentials({ integrationId: input.integrationId });
  return result;
}
