// `selfcheck`: runs the SelfCheck workflow through the configured Temporal server and task queue,
// proving that a worker is polling and reaches PostgreSQL.
import { randomUUID } from 'node:crypto';
import type { Config } from '../config.js';
import { fieldHandling } from '../meta/webhook-fields.js';
import { connectTemporal } from '../temporal/client.js';
import { selfCheckWorkflowId, workflowTypes } from '../temporal/names.js';
import { startWorkflow } from '../temporal/start.js';
import type { selfCheck } from '../../workflows/index.js';
import type { SelfCheckResult } from '../../activities/store.js';

export async function runSelfCheck(config: Config, timeoutMs = 30_000): Promise<SelfCheckResult> {
  const client = await connectTemporal(config);
  try {
    const checkId = randomUUID();
    const { handle } = await startWorkflow<typeof selfCheck>(client, workflowTypes.selfCheck, {
      baseQueue: config.temporal.taskQueue,
      workflowId: selfCheckWorkflowId(checkId),
      args: [checkId],
      workflowExecutionTimeout: `${timeoutMs}ms`,
    });
    // The workflow passes the activity's result through as it is; its declared type predates webhookFields.
    return (await handle.result()) as SelfCheckResult;
  } finally {
    await client.connection.close();
  }
}

/**
 * The check fails when Meta would not deliver something we act on: a processed field missing, or
 * the subscription itself inactive. A missing field we only acknowledge, or Meta not answering the
 * question, is reported and passes.
 */
export function webhookFieldsBlockingFailure(check: SelfCheckResult['webhookFields']): string | null {
  if (!check?.checked) return null;
  if (!check.active) return `the ${check.object} subscription is not active`;
  const processed = check.missing.filter((name) => fieldHandling(name) === 'processed');
  return processed.length > 0 ? `Meta will not deliver ${processed.join(', ')}, which this service acts on` : null;
}

/** One line for the operator: which of our webhook fields the app is not subscribed to, by name. */
export function describeWebhookFields(check: SelfCheckResult['webhookFields']): string {
  if (!check) return 'webhook fields: not checked by this worker (an older version)';
  if (!check.checked) return `webhook fields: could not read the app's subscriptions at Meta (${check.reason})`;
  const inactive = check.active ? '' : ` (the ${check.object} subscription is not active)`;
  return check.missing.length === 0
    ? `webhook fields: the app is subscribed to every listed field of ${check.object}${inactive}`
    : `webhook fields: the app is not subscribed to ${check.missing.join(', ')} of ${check.object}${inactive}`;
}
