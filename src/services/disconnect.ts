// DELETE /disconnect: deactivate now, then let DisconnectWhatsApp unsubscribe at Meta and destroy
// the token. Repeating it is harmless: it finishes whatever an earlier call left undone.
import { WorkflowExecutionAlreadyStartedError, type Client, type WorkflowHandle } from '@temporalio/client';
import type { Config } from '../config.js';
import type { Db } from '../db.js';
import type { Logger } from '../logger.js';
import type { ApiMetrics } from '../metrics.js';
import { deactivateIntegration, WHATSAPP } from '../store/integrations.js';
import { requestErasure } from './erasures.js';
import { disconnectWorkflowId, searchAttributes, taskQueueFor } from '../temporal/names.js';
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
export async function startDisconnectWorkflow(
  temporal: Client,
  config: Config,
  ids: { integrationId: string; businessId: string },
): Promise<WorkflowHandle<typeof disconnectWhatsApp>> {
  return temporal.workflow.start<typeof disconnectWhatsApp>('disconnectWhatsApp', {
    workflowId: disconnectWorkflowId(ids.integrationId),
    taskQueue: taskQueueFor(config.temporal.taskQueue, 'disconnectWhatsApp'),
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
  const integration = await db('channel_integrations')
    .where({ business_id: businessId, channel: WHATSAPP })
    .where((q) => void q.where({ is_active: true }).orWhereNotNull('credentials'))
    .orderBy('updated_at', 'desc')
    .first();
  if (!integration) return;
  if (integration.is_active)
    await deactivateIntegration(db, integration.id, { state: 'inactive', why: 'disconnected' });
  // Its own workflow stops the integration as a disconnect does, then deletes everything.
  if (config.erasure.deleteOnDisconnect)
    await requestErasure(deps, { businessId, subject: { kind: 'business' }, source: 'disconnect' });

  try {
    // Should Temporal be down here, reconcile finishes it later (finishPendingDisconnects).
    const handle = await startDisconnectWorkflow(temporal, config, { integrationId: integration.id, businessId });
    metrics.workflowStarts.inc({ workflow: 'disconnectWhatsApp', result: 'started' });
    // Usually done in well under a second; if Meta is slow the rest continues in the background.
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), config.callbackWaitMs);
    await temporal
      .withAbortSignal(controller.signal, () => handle.result())
      .catch(() => undefined)
      .finally(() => clearTimeout(timer));
  } catch (error) {
    if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
  }
}
