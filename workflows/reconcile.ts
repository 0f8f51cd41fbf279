// Reconcile: run by its Schedule (every 15 minutes by default, overlap skipped). One activity that
// pages through schedules and integrations, heartbeating as it goes.
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { ReconcileReport } from '../src/services/reconcile.js';
import { reconcileRun } from './policies.js';

const { reconcileIntegrations } = proxyActivities<Activities>(reconcileRun);

export async function reconcile(): Promise<ReconcileReport> {
  return reconcileIntegrations();
}
