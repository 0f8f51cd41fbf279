// The business's message log (GET /api/integrations/whatsapp/messages), every field listed.
import type { MessageLogPage } from '../../services/settings.js';
import { originOf } from '../../store/messages.js';
import type { MediaRow, MessageRow } from '../../store/tables.js';

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

function mediaView(row: MediaRow | undefined): MessageView['media'] {
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

function messageView(message: MessageRow, media: MediaRow | undefined): MessageView {
  return {
    id: message.id,
    messageId: message.wamid,
    direction: message.direction,
    customer: message.customer_wa_id ?? '',
    customerName: message.customer_name,
    type: message.type,
    text: message.body,
    status: message.status,
    sentAt: message.sent_at.toISOString(),
    inReplyTo: message.in_reply_to,
    error: typeof message.error?.reason === 'string' ? message.error.reason : null,
    origin: originOf(message),
    media: mediaView(media),
  };
}

export function messageLogView(page: MessageLogPage): { messages: MessageView[]; nextBefore: number | null } {
  return {
    messages: page.messages.map(({ message, media }) => messageView(message, media)),
    nextBefore: page.nextBefore,
  };
}
