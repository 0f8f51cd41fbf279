// Every activity the worker registers, built from injected dependencies.
import type { ActivityDeps } from './deps.js';
import { createMetaActivities } from './meta.js';
import { createReplyActivities } from './reply.js';
import { createStoreActivities } from './store.js';

export type { ActivityDeps } from './deps.js';

export function createActivities(deps: ActivityDeps) {
  return {
    ...createStoreActivities(deps),
    ...createMetaActivities(deps),
    ...createReplyActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
