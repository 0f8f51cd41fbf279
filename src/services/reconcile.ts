// Reconcile: every active integration has exactly one token-care schedule, and schedules of
// inactive or deleted integrations are removed. Run by the worker at start and by `npm run reconcile`.
import type { Client } from '@temporalio/client';
import type { Config } from '../config.js';
import type { Db } from '../db.js';
import { WHATSAPP } from '../store/integrations.js';
import { deleteTokenSchedule, ensureTokenSchedule, listTokenSchedules } from '../temporal/schedules.js';

export interface ReconcileReport {
  active: number;
  created: string[];
  removed: string[];
}

export async function reconcileSchedules(db: Db, client: Client, config: Config): Promise<ReconcileReport> {
  const active = await db('channel_integrations').where({ channel: WHATSAPP, is_active: true }).select('id', 'business_id');
  const scheduled = new Set(await listTokenSchedules(client));
  const wanted = new Set(active.map((i) => i.id));
  const report: ReconcileReport = { active: active.length, created: [], removed: [] };
  for (const integration of active) {
    if (scheduled.has(integration.id)) continue;
    await ensureTokenSchedule(client, config, { integrationId: integration.id, businessId: integration.business_id });
    report.created.push(integration.id);
  }
  for (const integrationId of scheduled) {
    if (wanted.has(integrationId)) continue;
    if ((await deleteTokenSchedule(client, integrationId)) === 'deleted') report.removed.push(integrationId);
  }
  return report;
}
