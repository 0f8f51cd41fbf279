// RecordStatuses: one per webhook POST that carries delivery statuses (id from their content), so
// a redelivered webhook records nothing twice.
import { proxyLocalActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { StatusEvent } from '../src/meta/webhook-payload.js';

const { recordStatusEvents } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '15s',
  scheduleToCloseTimeout: '24h',
  retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '10s' },
});

export async function recordStatuses(events: StatusEvent[]): Promise<{ recorded: number; applied: number }> {
  return recordStatusEvents(events);
}
