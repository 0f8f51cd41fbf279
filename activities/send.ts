// Activities of SendMessage: each takes our outbound row id only and reads the truth from
// PostgreSQL, so histories hold no message text or recipient.
import { Context } from '@temporalio/activity';
import type { GraphError } from '../src/meta/graph-errors.js';
import { failureCode, metaContent } from '../src/meta/outbound-message.js';
import { claimMessagingLimit } from '../src/store/messaging-limit.js';
import { completeOutbound, failOutbound, reserveOutbound } from '../src/store/outbound.js';
import { releaseSend } from '../src/store/turns.js';
import type { ActivityDeps } from './deps.js';
import { sendRow } from './meta-send.js';

export type OutboundOutcome =
  | { outcome: 'sent'; unrecorded?: { wamid: string } }
  | { outcome: 'wait' }
  /** The portfolio's messaging limit is full: try again in `retryInMs` (a place frees then). */
  | { outcome: 'limited'; retryInMs: number }
  | { outcome: 'closed'; reason: string };

/** What a send's row keeps of Meta's refusal. */
function graphDetail(error: GraphError) {
  return { metaCode: error.code ?? null, status: error.status ?? null, details: error.details ?? null };
}

export function createSendActivities(deps: ActivityDeps) {
  const { db, config, metrics } = deps;
  return {
    /**
     * Sends the row exactly once: reserved before the call, completed with Meta's id after; the
     * call carries the row id as biz_opaque_callback_data, so an unknown outcome is settled by the
     * status that echoes it (or sent again after the grace).
     */
    async sendOutbound(input: { outboundId: number }): Promise<OutboundOutcome> {
      const reservation = await reserveOutbound(db, input.outboundId, { graceMs: config.reply.unknownOutcomeGraceMs });
      if (reservation.kind === 'wait') return { outcome: 'wait' };
      if (reservation.kind === 'done') return { outcome: 'sent' };
      if (reservation.kind === 'closed') {
        metrics.messageOutcome(`send:${reservation.reason}`);
        return { outcome: 'closed', reason: reservation.reason };
      }
      const close = async (reason: string, message: string, detail: Record<string, unknown> = {}) => {
        await failOutbound(db, input.outboundId, { ...detail, reason, message });
        metrics.messageOutcome(`send:${reason}`);
        return { outcome: 'closed' as const, reason };
      };
      const recipient = reservation.to ?? reservation.recipient;
      if (!reservation.insideWindow && recipient) {
        // A business-initiated send counts against the portfolio's daily messaging limit.
        const claim = await claimMessagingLimit(db, { phoneNumberId: reservation.phoneNumberId, recipient });
        if (!claim.admitted) {
          await releaseSend(db, input.outboundId, 'not_sent', { reason: claim.reason });
          if (claim.reason === 'unknown_number') return close('number_inactive', 'the number is no longer active');
          // Look again when a place frees, or when the send expires if that comes first.
          const expiresAt = reservation.request.expiresAt ? Date.parse(reservation.request.expiresAt) : Infinity;
          const next = Math.min(claim.retryAt.getTime(), expiresAt);
          return { outcome: 'limited', retryInMs: Math.max(1_000, next - Date.now()) };
        }
      }
      // Sends the business starts yield to replies and agents' messages; an agent's does not back off.
      const result = await sendRow(deps, {
        ...reservation,
        outboundId: input.outboundId,
        attempt: Context.current().info.attempt,
        message: metaContent(reservation.request),
        detail: (error) => ({ ...graphDetail(error), message: error.message }),
      });
      if ('noToken' in result) return close('integration_inactive', 'the integration has no token');
      if ('refused' in result) {
        const error = result.refused;
        return close(failureCode(error.kind === 'reauth' ? 190 : error.code), error.message, graphDetail(error));
      }
      const messageId = result.sent;
      // Meta accepted it: from here the id must not be lost. If PostgreSQL is away right now, it
      // travels in the activity result (Temporal's history) and the workflow records it.
      try {
        await completeOutbound(db, input.outboundId, messageId);
        metrics.messageOutcome('send:sent');
        return { outcome: 'sent' };
      } catch {
        return { outcome: 'sent', unrecorded: { wamid: messageId } };
      }
    },

    async recordOutboundSent(input: { outboundId: number; wamid: string }): Promise<void> {
      await completeOutbound(db, input.outboundId, input.wamid);
    },

    /** Retries ran out (Meta down for hours): the send ends failed, unless a status settled it. */
    async giveUpOutbound(input: { outboundId: number; detail: string }): Promise<void> {
      await failOutbound(db, input.outboundId, { reason: 'send_gave_up', message: input.detail.slice(0, 500) });
    },
  };
}
