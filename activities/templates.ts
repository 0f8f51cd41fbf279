// The template catalogue's sync: pages through Meta's GET /{waba-id}/message_templates and keeps
// every template, marking those Meta no longer lists as deleted.
import { heartbeat } from '@temporalio/activity';
import { readIntegrationToken } from '../src/store/integrations.js';
import { applySyncedTemplates, finishTemplateSync, templateSyncAccount } from '../src/store/template-catalogue.js';
import { graphActivity } from '../src/temporal/failures.js';
import type { ActivityDeps } from './deps.js';

export interface TemplateSyncResult {
  /** Templates Meta listed; null when the account or its integration is no longer active. */
  templates: number | null;
  /** A sync was asked for after this pass began: run one more. */
  again: boolean;
}

/** Meta's pages hold up to 100 templates; a WABA holds at most a few thousand. */
const MAX_PAGES = 100;

export function createTemplateActivities({ db, graph, config }: ActivityDeps) {
  return {
    async syncTemplateCatalogue(input: { accountRowId: string }): Promise<TemplateSyncResult> {
      const account = await templateSyncAccount(db, input.accountRowId);
      if (!account) return { templates: null, again: false };
      const token = await readIntegrationToken(db, config.keyring, account.integrationId);
      if (!token) return { templates: null, again: false };
      // Before the first page. Meta's webhook times are whole seconds: what the pass reads counts
      // as of the second before the one it began in, so a webhook of that second still wins.
      const passStartedAt = new Date();
      const syncStartedAt = new Date(Math.floor(passStartedAt.getTime() / 1000) * 1000 - 1000);
      let after: string | undefined;
      let templates = 0;
      for (let pageNo = 0; pageNo < MAX_PAGES; pageNo++) {
        const page = await graphActivity(() => graph.listMessageTemplatesPage(token, account.wabaId, after));
        await applySyncedTemplates(db, account.wabaId, page.data, syncStartedAt);
        templates += page.data.length;
        heartbeat({ pageNo });
        after = page.paging?.cursors?.after;
        if (!page.paging?.next || !after) break;
      }
      const { again } = await finishTemplateSync(db, {
        accountRowId: input.accountRowId,
        wabaId: account.wabaId,
        syncStartedAt,
        passStartedAt,
      });
      return { templates, again };
    },
  };
}
