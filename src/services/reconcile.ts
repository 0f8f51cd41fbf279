// Reconcile: every active integration has exactly one token-care schedule, and schedules of
// inactive or deleted integrations are removed; secrets staged by connects that died are purged
// (expired OAuth states are the retention sweep's). Run by the reconcile Schedule and by `npm run reconcile`.
import type { Client } from '@temporalio/client';
import type { Config } from '../config.js';
import type { Db } from '../db.js';
import { activeIntegrations, isIntegrationActive } from '../store/integrations.js';
import { purgeExpiredStaging } from '../store/staging.js';
import { finishPendingDisconnects } from './pending-disconnects.js';
import {
  createMissingTokenSchedule,
  deleteTokenSchedule,
  isOwnTokenSchedule,
  listTokenSchedules,
} from '../temporal/schedules.js';

export interface ReconcileReport {
  active: number;
  created: string[];
  removed: string[];
  /** Token schedules without an integration here that belong to another deployment: left alone. */
  foreign: number;
  /** Staged secrets past their purge time, deleted. */
  purged: { stagedSecrets: number };
  /** Inactive integrations still holding a token, whose disconnect was started again. */
  pendingDisconnects: number;
}

export interface ReconcileOptions {
  /** Called after each step, so a long run shows progress and can be cancelled (activity heartbeat). */
  progress?: () => void | Promise<void>;
}

export async function reconcileSchedules(
  db: Db,
  client: Client,
  config: Config,
  options: ReconcileOptions = {},
): Promise<ReconcileReport> {
  const progress = options.progress ?? (() => undefined);
  // Schedules first, integrations second: a connect that lands in between has its row read as
  // active here, so its schedule is never taken for an orphan.
  const scheduled = new Set(await listTokenSchedules(client));
  await progress();
  const active = await activeIntegrations(db);
  await progress();
  const wanted = new Set(active.map((i) => i.id));
  const report: ReconcileReport = {
    active: active.length,
    created: [],
    removed: [],
    foreign: 0,
    purged: { stagedSecrets: await purgeExpiredStaging(db) },
    pendingDisconnects: await finishPendingDisconnects(db, client, config),
  };
  for (const integration of active) {
    if (scheduled.has(integration.id)) continue;
    const target = { integrationId: integration.id, businessId: integration.business_id };
    if ((await createMissingTokenSchedule(client, config, target)) === 'created') report.created.push(integration.id);
    await progress();
  }
  for (const integrationId of scheduled) {
    if (wanted.has(integrationId)) continue;
    // A reconnect may have made it active since the read above.
    if (await isIntegrationActive(db, integrationId)) continue;
    // Another deployment on the same namespace: its integrations are not in our database.
    if (!(await isOwnTokenSchedule(client, config, integrationId))) {
      report.foreign += 1;
      continue;
    }
    if ((await deleteTokenSchedule(client, integrationId)) === 'deleted') report.removed.push(integrationId);
    await progress();
  }
  return report;
}
