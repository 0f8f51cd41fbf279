// Activities that manage Temporal itself: the integration's token-care schedule, and cancelling
// the integration's running work when it is disconnected.
import { WorkflowNotFoundError } from '@temporalio/client';
import { Context } from '@temporalio/activity';
import { reconcileSchedules, type ReconcileReport } from '../src/services/reconcile.js';
import { deleteTokenSchedule, ensureTokenSchedule } from '../src/temporal/schedules.js';
import type { ActivityDeps } from './deps.js';

/** Workflow types that call Meta with an integration's token after it started. */
const TOKEN_USERS = ['refreshToken', 'handleMessage', 'handleInboundMessage'];

export function createScheduleActivities({ temporal, config, db, log }: ActivityDeps) {
  return {
    async reconcileIntegrations(): Promise<ReconcileReport> {
      const context = Context.current();
      const report = await reconcileSchedules(db, temporal, config, { progress: () => context.heartbeat() });
      log.info(
        {
          created: report.created.length,
          removed: report.removed.length,
          purged: report.purged,
          active: report.active,
        },
        'reconcile done',
      );
      return report;
    },

    async ensureTokenSchedule(input: { integrationId: string; businessId: string }): Promise<'created' | 'updated'> {
      return ensureTokenSchedule(temporal, config, input);
    },

    async deleteTokenSchedule(input: { integrationId: string }): Promise<'deleted' | 'absent'> {
      return deleteTokenSchedule(temporal, input.integrationId);
    },

    /** Cancels running workflows of the integration that would still call Meta with its token. */
    async cancelIntegrationWork(input: { integrationId: string }): Promise<number> {
      const self = Context.current().info.workflowExecution?.workflowId;
      const types = TOKEN_USERS.map((t) => `WorkflowType = '${t}'`).join(' OR ');
      const query = `WaIntegrationId = '${input.integrationId.replace(/'/g, '')}' AND ExecutionStatus = 'Running' AND (${types})`;
      let cancelled = 0;
      for await (const execution of temporal.workflow.list({ query })) {
        // Each cancel is a sign of life: a long list never runs into the heartbeat timeout.
        Context.current().heartbeat();
        if (execution.workflowId === self) continue;
        try {
          await temporal.workflow.getHandle(execution.workflowId, execution.runId).cancel();
          cancelled++;
        } catch (error) {
          if (!(error instanceof WorkflowNotFoundError)) throw error;
        }
      }
      return cancelled;
    },
  };
}
