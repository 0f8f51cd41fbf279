// `reconcile`: one token-care schedule per active integration, none for inactive or deleted ones.
import type { Config } from '../config.js';
import { createDb } from '../db.js';
import { reconcileSchedules, type ReconcileReport } from '../services/reconcile.js';
import { connectTemporal } from '../temporal/client.js';

export async function runReconcile(config: Config): Promise<ReconcileReport> {
  const db = createDb(config.databaseUrl, { poolMax: 2 });
  const client = await connectTemporal(config);
  try {
    return await reconcileSchedules(db, client, config);
  } finally {
    await client.connection.close();
    await db.destroy();
  }
}
