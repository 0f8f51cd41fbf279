// DELETE /disconnect: deactivate now, then let DisconnectWhatsApp unsubscribe at Meta and destroy
// the token. Repeating it is harmless: it finishes whatever an earlier call left undone.
import type { Client } from '@temporalio/client';
import type { Config } from '../config.js';
import type { Db } from '../db.js';
import type { Logger } from '../logger.js';
import type { ApiMetrics } from '../metrics.js';
import { deactivateIntegration, integrationToDisconnect } from '../store/integrations.js';
import { requestErasure } from './erasures.js';
import { disconnectWorkflowId, searchAttributes, workflowTypes } from '../temporal/names.js';
import { startWorkflow, type StartCounter } from '../temporal/start.js';
import { callTimeouts } from '../temporal/timeouts.js';
import type { disconnectWhatsApp } from '../../workflows/disconnect-whatsapp.js';

export interface DisconnectDeps {
  config: Config;
  db: Db;
  temporal: Client;
  metrics: ApiMetrics;
  log: Logger;
}

/** Starts DisconnectWhatsApp for the integration, or finds the run already going. */
export function startDisconnectWorkflow(
  temporal: Client,
  config: Config,
  ids: { integrationId: string; businessId: string },
  counter?: StartCounter,
) {
  return startWorkflow<typeof disconnectWhatsApp>(temporal, workflowTypes.disconnectWhatsApp, {
    baseQueue: config.temporal.taskQueue,
    counter,
    workflowId: disconnectWorkflowId(ids.integrationId),
    args: [{ ...ids, timeouts: callTimeouts(config) }],
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    typedSearchAttributes: [
      { key: searchAttributes.businessId, value: ids.businessId },
      { key: searchAttributes.integrationId, value: ids.integrationId },
    ],
  });
}

export async function disconnect(deps: DisconnectDeps, businessId: string): Promise<void> {
  const { config, db, temporal, metrics } = deps;
  const integration = await integrationToDisconnect(db, businessId);
  if (!integration) return;
  if (integration.is_active)
    await deactivateIntegration(db, integration.id, { state: 'inactive', why: 'disconnected' });
  // Its own workflow stops the integration as a disconnect does, then deletes everything.
  if (config.erasure.deleteOnDisconnect)
    await requestErasure(deps, { businessId, subject: { kind: 'business' }, source: 'disconnect' });

  // Should Temporal be down here, reconcile finishes it later (finishPendingDisconnects).
  const { result, handle } = await startDisconnectWorkflow(
    temporal,
    config,
    { integrationId: integration.id, businessId },
    metrics.workflowStarts,
  );
  if (result === 'duplicate') return;
  // Usually done in well under a second; if Meta is slow the rest continues in the background.
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), config.callbackWaitMs);
  await temporal
    .withAbortSignal(controller.signal, () => handle.result())
    .catch(() => undefined)
    .finally(() => clearTimeout(timer));
}
