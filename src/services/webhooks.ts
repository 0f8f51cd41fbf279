// Turns a verified webhook into durable work: delivery statuses are recorded in PostgreSQL at once
// (pure bookkeeping, and what settles a send whose outcome is unknown, so it must not wait behind
// workflows); one HandleMessage per message, one RecordAccountEvent per account event. It answers
// only once PostgreSQL and Temporal have both accepted everything, so a failure here makes Meta
// deliver again and nothing is lost.
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { Config } from '../config.js';
import { callTimeouts } from '../temporal/timeouts.js';
import type { ApiMetrics } from '../metrics.js';
import type { ParsedWebhook } from '../meta/webhook-payload.js';
import { accountEventKey } from '../store/account-events.js';
import { recordStatuses } from '../store/messages.js';
import { DatabaseUnavailable } from '../errors.js';
import type { Db } from '../db.js';
import { accountEventWorkflowId, messageWorkflowId, searchAttributes, taskQueueFor, type WorkflowType } from '../temporal/names.js';

export interface WebhookDeps {
  config: Config;
  db: Db;
  temporal: Client;
  metrics: ApiMetrics;
}

/** How long the webhook waits for Temporal before answering 503 (Meta then delivers again). */
const START_DEADLINE_MS = 5_000;

async function startOnce(
  deps: WebhookDeps,
  workflowType: WorkflowType,
  workflowId: string,
  args: unknown[],
  messageId?: string,
): Promise<'started' | 'duplicate'> {
  try {
    await deps.temporal.workflow.start(workflowType, {
      workflowId,
      taskQueue: taskQueueFor(deps.config.temporal.taskQueue, workflowType),
      args,
      // A running one is reused; one that completed is refused (no second run); one that failed
      // may run again when Meta redelivers, and PostgreSQL decides what is already done.
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
      ...(messageId ? { typedSearchAttributes: [{ key: searchAttributes.messageId, value: messageId }] } : {}),
    });
    deps.metrics.workflowStarts.inc({ workflow: workflowType, result: 'started' });
    return 'started';
  } catch (error) {
    const duplicate = error instanceof WorkflowExecutionAlreadyStartedError;
    deps.metrics.workflowStarts.inc({ workflow: workflowType, result: duplicate ? 'duplicate' : 'error' });
    if (duplicate) return 'duplicate';
    throw error;
  }
}


export interface AcceptResult {
  messages: number;
  duplicates: number;
  statuses: number;
}

export async function acceptWebhook(deps: WebhookDeps, parsed: ParsedWebhook): Promise<AcceptResult> {
  // Recorded once each (upsert by message id and status), forward only: a redelivery changes nothing.
  if (parsed.statuses.length > 0) await recordStatuses(deps.db, parsed.statuses).catch((error: unknown) => {
    throw new DatabaseUnavailable(error);
  });
  const timeouts = callTimeouts(deps.config);
  return deps.temporal.connection.withDeadline(Date.now() + START_DEADLINE_MS, async () => {
    const starts: Array<Promise<'started' | 'duplicate'>> = parsed.messages.map((message) =>
      startOnce(deps, 'handleMessage', messageWorkflowId(message.wamid), [message, { timeouts }], message.wamid),
    );
    for (const event of parsed.accountEvents) {
      starts.push(startOnce(deps, 'recordAccountEvent', accountEventWorkflowId(accountEventKey(event)), [event, { timeouts }]));
    }
    const results = await Promise.all(starts);
    return {
      messages: parsed.messages.length,
      duplicates: results.slice(0, parsed.messages.length).filter((r) => r === 'duplicate').length,
      statuses: parsed.statuses.length,
    };
  });
}
