// RecordAccountEvent: one per distinct account event from Meta (account_update,
// phone_number_quality_update, phone_number_name_update). An account removed at Meta ends its
// integration: no more scheduled checks, running work cancelled, token destroyed.
import { log, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { AccountEvent } from '../src/meta/webhook-payload.js';
import type { AccountEventEffect } from '../src/store/account-events.js';
import { DEFAULT_CALL_TIMEOUTS, type CallTimeouts } from '../src/temporal/timeouts.js';
import { db, graphCall, temporalCall } from './policies.js';

const { recordAccountEvent, destroyCredentials } = db;
const { deleteTokenSchedule, cancelIntegrationWork } = proxyActivities<Activities>(temporalCall);

export async function recordAccountEventWorkflow(
  event: AccountEvent,
  options: { timeouts?: CallTimeouts } = {},
): Promise<AccountEventEffect> {
  const { refreshNumberDetails } = proxyActivities<Activities>(graphCall(options.timeouts ?? DEFAULT_CALL_TIMEOUTS));
  const effect = await recordAccountEvent(event);
  if (effect.kind === 'removed') {
    for (const integrationId of effect.integrationIds) {
      await deleteTokenSchedule({ integrationId });
      await cancelIntegrationWork({ integrationId });
      await destroyCredentials({ integrationId });
    }
  }
  if (effect.kind === 'number') {
    for (const number of effect.numbers) {
      // Best effort: the event itself is recorded; the details catch up at the next event.
      await refreshNumberDetails(number).catch((error: unknown) =>
        log.warn('could not refresh number details', { error: String(error) }),
      );
    }
  }
  return effect;
}
