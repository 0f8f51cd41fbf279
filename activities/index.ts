// Every activity the worker registers, built from injected dependencies.
import { log } from '@temporalio/activity';
import { createBusinessAppActivities } from './business-app.js';
import type { ActivityDeps } from './deps.js';
import { createErasureActivities } from './erasure.js';
import { createInboundActivities } from './inbound.js';
import { createMetaActivities } from './meta.js';
import { createRegistrationActivities } from './registration.js';
import { createReplyActivities } from './reply.js';
import { createRetentionActivities } from './retention.js';
import { createScheduleActivities } from './schedules.js';
import { createSendActivities } from './send.js';
import { createStoreActivities } from './store.js';
import { createTemplateActivities } from './templates.js';

export type { ActivityDeps } from './deps.js';

export function createActivities(deps: ActivityDeps) {
  const meta = createMetaActivities(deps);
  return {
    ...createStoreActivities(deps),
    ...meta,
    /** sendReply, counted by outcome for the worker's metrics. */
    async sendReply(input: Parameters<typeof meta.sendReply>[0]) {
      const result = await meta.sendReply(input);
      log.info('reply step done', {
        integrationId: input.integrationId,
        inboundId: input.inboundId,
        outcome: result.outcome,
      });
      if (result.outcome !== 'wait')
        deps.metrics.messageOutcome(
          result.outcome === 'replied'
            ? 'replied'
            : `${result.outcome}:${result.outcome === 'failed' ? 'meta_error' : result.reason}`,
        );
      return result;
    },
    ...createReplyActivities(deps),
    ...createInboundActivities(deps),
    ...createScheduleActivities(deps),
    ...createRegistrationActivities(deps),
    ...createBusinessAppActivities(deps),
    ...createTemplateActivities(deps),
    ...createSendActivities(deps),
    ...createRetentionActivities(deps),
    ...createErasureActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
