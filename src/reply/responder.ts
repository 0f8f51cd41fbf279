// What a responder sees and answers. Two ship: rules (auto-reply) and HTTP (the business's "AI brain").
export interface ReplyRequest {
  businessId: string;
  integrationId: string;
  phoneNumberId: string;
  from: string;
  messageId: string;
  type: string;
  text: string | null;
  /** Epoch milliseconds of the customer's message. */
  timestamp: number;
  /** Who wrote: our customer id, and the phone, BSUID, username and profile name Meta gave. */
  customer?: { id: string; phone?: string; bsuid?: string; username?: string; name?: string };
  /** The turn's messages in the order they were received, the one answered (`messageId`) last. */
  messages?: Array<{
    messageId: string;
    type: string;
    text: string | null;
    timestamp: number;
    /** A stored image, audio, video, document or sticker, fetchable at `url` until it expires. */
    media?: { id: string; mimeType: string; size: number; url: string };
  }>;
}

export interface Reply {
  type: 'text';
  text: string;
}

export interface Responder {
  readonly name: string;
  reply(request: ReplyRequest): Promise<Reply | null>;
}

/** WhatsApp's limit for a text body. */
export const MAX_REPLY_LENGTH = 4096;
