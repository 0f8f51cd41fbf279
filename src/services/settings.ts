// The business's reply settings (auto-reply text, responder) and its conversations, both scoped to
// the caller's business.
import type { Config } from '../config.js';
import type { Db } from '../db.js';
import { InvalidError, NotFoundError } from '../errors.js';
import { ownerReplyPauseMs } from '../policy/bot-pause.js';
import { autoReplyText, chosenResponder } from '../policy/responder.js';
import { DEFAULT_BRAIN_HISTORY } from '../store/brain-context.js';
import { mediaOfMessages } from '../store/media.js';
import { originOf } from '../store/messages.js';
import type { IntegrationSettings, MediaRow } from '../store/tables.js';
import { currentIntegration } from './status.js';

function presentMedia(row: MediaRow | undefined): MessageView['media'] {
  if (!row) return null;
  return {
    id: row.id,
    state: row.state,
    mimeType: row.mime_type,
    size: row.size,
    filename: row.filename,
    failureReason: row.failure_reason,
  };
}

export interface SettingsView {
  autoReplyText: string;
  autoReplyTextIsDefault: boolean;
  /** Sent to a customer who opens the chat for the first time; null: no welcome. */
  welcomeText: string | null;
  responder: 'rules' | 'http';
  httpResponderAvailable: boolean;
  /** On a coexistence number: how long the owner's reply from the WhatsApp Business app pauses the bot. */
  botPauseAfterOwnerReplyMs: number;
  /** The AI brain's contract version. */
  brainVersion: 1 | 2;
  /** Version 2: how many earlier messages of the conversation each request carries. */
  brainHistoryMessages: number;
}

function settingsView(config: Config, settings: IntegrationSettings): SettingsView {
  const httpAvailable = Boolean(config.reply.webhookUrl);
  return {
    autoReplyText: autoReplyText(settings, config.reply.defaultText),
    autoReplyTextIsDefault: settings.autoReplyText === undefined,
    welcomeText: settings.welcomeText ?? null,
    responder: chosenResponder(settings, httpAvailable),
    httpResponderAvailable: httpAvailable,
    botPauseAfterOwnerReplyMs: ownerReplyPauseMs(settings),
    brainVersion: settings.brainVersion ?? 1,
    brainHistoryMessages: settings.brainHistoryMessages ?? DEFAULT_BRAIN_HISTORY,
  };
}

export async function readSettings(config: Config, db: Db, businessId: string): Promise<SettingsView> {
  const integration = await currentIntegration(db, businessId);
  if (!integration) throw new NotFoundError('not_connected', 'Connect WhatsApp first.');
  return settingsView(config, integration.settings ?? {});
}

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
): Promise<SettingsView> {
  const integration = await currentIntegration(db, businessId);
  if (!integration) throw new NotFoundError('not_connected', 'Connect WhatsApp first.');
  if (change.responder === 'http' && !config.reply.webhookUrl) {
    throw new InvalidError('responder_unavailable', 'No reply service is configured (REPLY_WEBHOOK_URL).');
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
  await db('channel_integrations').where({ id: integration.id }).update({ settings: next, updated_at: new Date() });
  return settingsView(config, next);
}

export interface MessageView {
  id: number;
  /** Meta's message id; the HandleMessage workflow of an inbound message is message/<messageId>. */
  messageId: string | null;
  direction: 'inbound' | 'outbound';
  customer: string;
  customerName: string | null;
  type: string;
  text: string | null;
  status: string;
  sentAt: string;
  inReplyTo: number | null;
  error: string | null;
  /**
   * Inbound: cloud_api, or history (imported from the app). Outbound: reply (the bot answered a
   * turn), api, template, business_app (the owner wrote it in the WhatsApp Business app).
   */
  origin: string;
  /** An inbound image, audio, video, document or sticker: served at GET /api/integrations/whatsapp/media/{id}. */
  media: {
    id: number;
    state: string;
    mimeType: string | null;
    size: number | null;
    filename: string | null;
    failureReason: string | null;
  } | null;
}

/** The business's messages, newest first, paged by id (`before`). */
export async function listMessages(
  db: Db,
  businessId: string,
  page: { limit: number; before?: number | undefined },
): Promise<{ messages: MessageView[]; nextBefore: number | null }> {
  const query = db('messages')
    .where({ business_id: businessId })
    .orderBy('id', 'desc')
    .limit(page.limit + 1);
  if (page.before !== undefined) query.andWhere('id', '<', page.before);
  const rows = await query;
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
    messages: pageRows.map((m) => ({
      id: m.id,
      messageId: m.wamid,
      direction: m.direction,
      customer: m.customer_wa_id ?? '',
      customerName: m.customer_name,
      type: m.type,
      text: m.body,
      status: m.status,
      sentAt: m.sent_at.toISOString(),
      inReplyTo: m.in_reply_to,
      error: typeof m.error?.reason === 'string' ? m.error.reason : null,
      origin: originOf(m),
      media: presentMedia(media.get(Number(m.id))),
    })),
    nextBefore: rows.length > page.limit ? pageRows.at(-1)!.id : null,
  };
}
