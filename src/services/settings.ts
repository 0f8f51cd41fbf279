// The business's reply settings (auto-reply text, responder) and its message log, both scoped to
// the caller's business.
import type { Config } from '../config.js';
import type { Db } from '../db.js';
import { DomainError } from '../errors.js';
import { currentIntegration, storeSettings } from '../store/integrations.js';
import { mediaOfMessages } from '../store/media.js';
import { messagesOfBusiness } from '../store/messages.js';
import type { IntegrationSettings, MediaRow, MessageRow } from '../store/tables.js';

/** The settings the business stored; the ones it never set take their defaults when presented. */
export async function readSettings(db: Db, businessId: string): Promise<IntegrationSettings> {
  const integration = await currentIntegration(db, businessId);
  if (!integration) throw new DomainError('not_found', 'not_connected', 'Connect WhatsApp first.');
  return integration.settings ?? {};
}

/** Applies the change (null: back to the default) and answers the settings now stored. */
export async function updateSettings(
  config: Config,
  db: Db,
  businessId: string,
  change: {
    autoReplyText?: string | null | undefined;
    welcomeText?: string | null | undefined;
    responder?: 'rules' | 'http' | undefined;
    botPauseAfterOwnerReplyMs?: number | null | undefined;
    brainVersion?: 1 | 2 | null | undefined;
    brainHistoryMessages?: number | null | undefined;
  },
): Promise<IntegrationSettings> {
  const integration = await currentIntegration(db, businessId);
  if (!integration) throw new DomainError('not_found', 'not_connected', 'Connect WhatsApp first.');
  if (change.responder === 'http' && !config.reply.webhookUrl) {
    throw new DomainError('invalid', 'responder_unavailable', 'No reply service is configured (REPLY_WEBHOOK_URL).');
  }
  const next: IntegrationSettings = { ...integration.settings };
  if (change.autoReplyText === null) delete next.autoReplyText;
  else if (change.autoReplyText !== undefined) next.autoReplyText = change.autoReplyText;
  if (change.welcomeText === null) delete next.welcomeText;
  else if (change.welcomeText !== undefined) next.welcomeText = change.welcomeText;
  if (change.responder !== undefined) next.responder = change.responder;
  if (change.botPauseAfterOwnerReplyMs === null) delete next.botPauseAfterOwnerReplyMs;
  else if (change.botPauseAfterOwnerReplyMs !== undefined)
    next.botPauseAfterOwnerReplyMs = change.botPauseAfterOwnerReplyMs;
  if (change.brainVersion === null) delete next.brainVersion;
  else if (change.brainVersion !== undefined) next.brainVersion = change.brainVersion;
  if (change.brainHistoryMessages === null) delete next.brainHistoryMessages;
  else if (change.brainHistoryMessages !== undefined) next.brainHistoryMessages = change.brainHistoryMessages;
  await storeSettings(db, integration.id, next);
  return next;
}

/** One page of the message log, newest first, each message with its media; `nextBefore` continues it. */
export interface MessageLogPage {
  messages: Array<{ message: MessageRow; media: MediaRow | undefined }>;
  nextBefore: number | null;
}

/** The business's messages, newest first, paged by id (`before`). */
export async function listMessages(
  db: Db,
  businessId: string,
  page: { limit: number; before?: number | undefined },
): Promise<MessageLogPage> {
  // One more than the page: whether it comes back says whether an older page follows.
  const rows = await messagesOfBusiness(db, businessId, { limit: page.limit + 1, before: page.before });
  const pageRows = rows.slice(0, page.limit);
  const media = new Map(
    (
      await mediaOfMessages(
        db,
        businessId,
        pageRows.map((m) => Number(m.id)),
      )
    ).map((row) => [row.message_id, row]),
  );
  return {
    messages: pageRows.map((message) => ({ message, media: media.get(Number(message.id)) })),
    nextBefore: rows.length > page.limit ? pageRows.at(-1)!.id : null,
  };
}
