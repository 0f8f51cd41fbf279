// Reconcile: run by its Schedule (every 15 minutes by default, overlap skipped). One activity that
// pages through schedules and integrations, heartbeating as it goes.
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { ReconcileReport } from '../src/services/reconcile.js';

const { reconcileIntegrations } = proxyActivities<Activities>({
  startToCloseTimeout: '30m',
  heartbeatTimeout: '2m',
  retry: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '2m', maximumAttempts: 3 },
});

export async function reconcile(): Promise<ReconcileReport> {
  return reconcileIntegrations();
}
