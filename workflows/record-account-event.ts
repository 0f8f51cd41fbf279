// RecordAccountEvent: one per distinct account event from Meta (account_update,
// phone_number_quality_update, phone_number_name_update). An account removed at Meta ends its
// integration: no more scheduled checks, running work cancelled, token destroyed.
import { log, proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { AccountEvent } from '../src/meta/webhook-payload.js';
import type { AccountEventEffect } from '../src/store/account-events.js';

const { recordAccountEvent, destroyCredentials } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '15s',
  scheduleToCloseTimeout: '24h',
  retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '10s' },
});
const { deleteTokenSchedule, cancelIntegrationWork, refreshNumberDetails } = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  scheduleToCloseTimeout: '10m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
});

export async function recordAccountEventWorkflow(event: AccountEvent): Promise<AccountEventEffect> {
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
      await refreshNumberDetails(number).catch((error: unknown) => log.warn('could not refresh number details', { error: String(error) }));
    }
  }
  return effect;
}
