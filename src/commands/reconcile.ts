// `reconcile`: one token-care schedule per active integration, none for inactive or deleted ones.
import type { Config } from '../config.js';
import { reconcileSchedules, type ReconcileReport } from '../services/reconcile.js';
import { withDbAndTemporal } from './operator.js';

export function runReconcile(config: Config): Promise<ReconcileReport> {
  return withDbAndTemporal(config, (db, client) => reconcileSchedules(db, client, config));
}
