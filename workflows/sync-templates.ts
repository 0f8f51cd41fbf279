// SyncTemplates: one per WhatsApp Business Account (our row id). Reads the account's templates into
// the catalogue; when a sync was asked for while a pass ran (a webhook named a template the pass
// may have missed), it runs one more, a few times at most.
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { pagedGraphCall } from './policies.js';

const MAX_PASSES = 3;

export interface SyncTemplatesResult {
  passes: number;
  templates: number | null;
}

export async function syncTemplates(input: { accountRowId: string }): Promise<SyncTemplatesResult> {
  const { syncTemplateCatalogue } = proxyActivities<Activities>(pagedGraphCall());
  let passes = 0;
  let templates: number | null = null;
  while (passes < MAX_PASSES) {
    passes += 1;
    const result = await syncTemplateCatalogue(input);
    templates = result.templates;
    if (!result.again) break;
  }
  return { passes, templates };
}
