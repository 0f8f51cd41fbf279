// Disconnect is durable: whatever DELETE /disconnect did not finish (Temporal down when it ran, or
// a run that failed) is finished later, by starting DisconnectWhatsApp again for every integration
// that is inactive but still holds its token. Starting it twice reaches the same run.
import type { Client } from '@temporalio/client';
import type { Config } from '../config.js';
import type { Db } from '../db.js';
import { integrationsAwaitingDisconnect } from '../store/pending-disconnects.js';
import { startDisconnectWorkflow } from './disconnect.js';

/** Leaves a disconnect that just ran the time to start its own workflow. */
const PENDING_DISCONNECT_GRACE_MS = 60_000;

/** Starts (or finds running) the disconnect of each such integration; answers how many. */
export async function finishPendingDisconnects(db: Db, client: Client, config: Config): Promise<number> {
  const pending = await integrationsAwaitingDisconnect(db, PENDING_DISCONNECT_GRACE_MS);
  for (const integration of pending) {
    await startDisconnectWorkflow(client, config, {
      integrationId: integration.id,
      businessId: integration.business_id,
    });
  }
  return pending.length;
}
