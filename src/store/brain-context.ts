// What the AI brain's version 2 request adds to a turn: the conversation's messages before it and
// how long Meta's customer service window stays open.
import type { Db } from '../db.js';
import type { BrainRequestV2 } from '../reply/contract-v2.js';
import { originOf } from './messages.js';
import type { TurnContext } from './turns.js';

/** How many earlier messages a version 2 request carries unless the integration sets another number. */
export const DEFAULT_BRAIN_HISTORY = 10;
/** The most earlier messages a request may carry. */
export const MAX_BRAIN_HISTORY = 50;

/** Meta's 24-hour customer service window, from the customer's newest message. */
const SERVICE_WINDOW_MS = 24 * 3600 * 1000;

/** The version 2 request for a turn: its messages, the last `historyCount` before them, the window. */
export async function brainRequestV2(
  db: Db,
  context: TurnContext,
  historyCount: number,
  now = new Date(),
): Promise<BrainRequestV2> {
  const { request, turn } = context;
  const earlier =
    historyCount > 0
      ? await db('messages')
          .where({ conversation_id: context.conversationId })
          .whereNotIn('id', turn.message_ids)
          .where('created_at', '<', turn.created_at)
          .whereNot({ status: 'rejected' })
          .orderBy([
            { column: 'created_at', order: 'desc' },
            { column: 'id', order: 'desc' },
          ])
          .limit(historyCount)
          .select('direction', 'type', 'body', 'sent_at', 'origin', 'turn_id', 'in_reply_to')
      : [];
  const expiresAt = new Date(context.newestSentAt.getTime() + SERVICE_WINDOW_MS);
  return {
    version: 2,
    businessId: request.businessId,
    integrationId: request.integrationId,
    phoneNumberId: request.phoneNumberId,
    conversationId: String(context.conversationId),
    turnId: String(turn.id),
    customer: request.customer ?? { id: '' },
    messages: (request.messages ?? []).map((m) => ({
      messageId: m.messageId,
      type: m.type,
      text: m.text,
      timestamp: m.timestamp,
      ...(m.media ? { media: m.media } : {}),
    })),
    history: earlier.reverse().map((m) => ({
      direction: m.direction as 'inbound' | 'outbound',
      type: m.type,
      text: m.body ?? null,
      timestamp: new Date(m.sent_at).getTime(),
      origin: m.direction === 'outbound' ? originOf(m) : null,
    })),
    window: { expiresAt: expiresAt.toISOString(), remainingMs: Math.max(0, expiresAt.getTime() - now.getTime()) },
  };
}
