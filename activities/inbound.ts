// Activities of HandleInboundMessage: each takes and returns our ids only, reads the truth from
// PostgreSQL, and writes every decision there, so histories hold no message text or phone number.
import { log } from '@temporalio/activity';
import { GraphError } from '../src/meta/graph-errors.js';
import { HttpResponder, ReplyServiceError } from '../src/reply/http.js';
import { metaContent } from '../src/meta/outbound-message.js';
import type { Answer } from '../src/reply/contract-v2.js';
import type { Reply, ReplyRequest } from '../src/reply/responder.js';
import { RulesResponder } from '../src/reply/rules.js';
import { autoReplyText, chosenResponder } from '../src/policy/responder.js';
import { answerBlocker } from '../src/policy/reply-decision.js';
import { readIntegrationToken } from '../src/store/integrations.js';
import { signedMediaUrl } from '../src/media/signed-url.js';
import { storedMediaOfTurn, turnHasMedia } from '../src/store/media.js';
import { isOurMessage } from '../src/store/messages.js';
import { brainRequestV2, DEFAULT_BRAIN_HISTORY } from '../src/store/brain-context.js';
import {
  abandonTurn,
  claimTurn,
  closeInboundMessage,
  completeSend,
  draftAnswer,
  recordResponderError,
  inboundToAnswer,
  readReceiptTarget,
  reserveSend,
  turnContext,
  typingTarget,
  type Claim,
  type Released,
} from '../src/store/turns.js';
import { messageWorkflowId, TURN_RELEASED_SIGNAL } from '../src/temporal/names.js';
import { responderFailure, responderNotConfigured } from '../src/temporal/failure-types.js';
import { toActivityFailure } from '../src/temporal/failures.js';
import { callTimeouts, type CallTimeouts } from '../src/temporal/timeouts.js';
import type { ActivityDeps } from './deps.js';
import { sendRow } from './meta-send.js';

export type InboundStart =
  | { kind: 'closed'; status: string }
  | {
      kind: 'open';
      responder: 'rules' | 'http';
      timeouts: CallTimeouts;
      /** How long the brain may think before the typing indicator is shown once more. */
      typingRefreshMs?: number;
    };

export type Drafted =
  /** `outboundIds`: the turn's messages in order (histories before version 2 carry `outboundId` alone). */
  | { kind: 'drafted'; outboundId: number; outboundIds?: number[] }
  | { kind: 'no_reply' }
  /** Nothing to send, and the turn is closed (the brain handed the conversation to a person). */
  | { kind: 'closed'; status: string; reason: string };

export type TurnSendOutcome =
  | { outcome: 'replied'; unrecorded?: { wamid: string } }
  | { outcome: 'wait' }
  | { outcome: 'closed'; status: string; reason: string };

/** What a send's row keeps of Meta's refusal. */
function graphDetail(error: GraphError) {
  return {
    operation: error.operation,
    status: error.status ?? null,
    code: error.code ?? null,
    message: error.message,
    details: error.details ?? null,
  };
}

export function createInboundActivities(deps: ActivityDeps) {
  const { db, config, temporal, metrics, graph } = deps;
  const http =
    config.reply.webhookUrl && config.reply.webhookSecret
      ? new HttpResponder(config.reply.webhookUrl, config.reply.webhookSecret, config.reply.timeoutMs)
      : undefined;

  /** A hint to the next message in line: the truth stays in PostgreSQL, so a lost signal only costs a poll. */
  async function nudge(released: Released | null | undefined): Promise<void> {
    if (!released?.nextHeadId) return;
    await temporal.workflow
      .getHandle(messageWorkflowId(released.nextHeadId))
      .signal(TURN_RELEASED_SIGNAL)
      .catch((error: unknown) => log.debug('next message not signalled', { error: String(error) }));
  }

  /** The turn's stored media, each entry with a short-lived signed URL the responder can fetch. */
  async function withMedia(turnId: number, request: ReplyRequest): Promise<ReplyRequest> {
    const stored = new Map((await storedMediaOfTurn(db, turnId)).map((row) => [row.wamid, row]));
    if (stored.size === 0 || !request.messages) return request;
    return {
      ...request,
      messages: request.messages.map((entry) => {
        const media = stored.get(entry.messageId);
        if (!media) return entry;
        return {
          ...entry,
          media: {
            id: String(media.id),
            mimeType: media.mime_type ?? 'application/octet-stream',
            size: media.size ?? 0,
            url: signedMediaUrl(config, media.id, config.media.urlTtlMs),
          },
        };
      }),
    };
  }

  async function draft(turnId: number, answer: Answer, responder: string): Promise<Drafted> {
    const drafted = await draftAnswer(db, turnId, answer, responder);
    // Erased while the responder composed it: nothing is left to answer.
    if (drafted.kind === 'erased') return { kind: 'no_reply' };
    if (drafted.kind === 'refused') {
      // A template the brain named cannot be sent: the auto-reply answers, and the turn says why.
      throw new ReplyServiceError(`the answer's template: ${drafted.message}`, false);
    }
    if (drafted.kind === 'handed_off') {
      await nudge(drafted.released);
      metrics.messageOutcome('agent:handoff');
      return { kind: 'closed', status: 'agent', reason: 'handoff' };
    }
    if (drafted.outboundIds.length === 0) {
      await nudge(await abandonTurn(db, turnId, 'no_reply', { reason: 'responder_answered_null' }));
      metrics.messageOutcome('no_reply');
      return { kind: 'no_reply' };
    }
    return { kind: 'drafted', outboundId: drafted.outboundIds[0]!, outboundIds: drafted.outboundIds };
  }

  /** A responder's text reply (or none) as an answer. */
  const answerOf = (reply: Reply | null): Answer => ({ messages: reply ? [{ text: reply.text }] : [] });

  return {
    /** Reads the message and its integration: what answers it, or why nothing will. */
    async openInbound(input: { messageId: number }): Promise<InboundStart> {
      const message = await inboundToAnswer(db, input.messageId);
      // Erased while its workflow waited to start: nothing is left to answer.
      if (!message) return { kind: 'closed', status: 'erased' };
      if (message.status !== 'received') return { kind: 'closed', status: message.status };
      const integration = message.integration;
      const close = async (status: 'unanswered' | 'no_reply', reason: string) => {
        await nudge(await closeInboundMessage(db, input.messageId, status, status === 'no_reply' ? null : { reason }));
        metrics.messageOutcome(reason);
        return { kind: 'closed' as const, status };
      };
      const blocked = await answerBlocker(integration, message, (wamid) => isOurMessage(db, wamid));
      if (blocked || !integration)
        return close(blocked?.status ?? 'unanswered', blocked?.reason ?? 'integration_inactive');
      const settings = integration.settings ?? {};
      // A welcome request is answered with the business's own welcome text, never the HTTP brain's.
      const open = { timeouts: callTimeouts(config), typingRefreshMs: config.reply.typingRefreshMs };
      if (message.type === 'request_welcome') return { kind: 'open', responder: 'rules', ...open };
      return { kind: 'open', responder: chosenResponder(settings, Boolean(http)), ...open };
    },

    /** The message's place in line; a turn says whether it has media to fetch before it is answered. */
    async claimTurn(input: { messageId: number }): Promise<Claim & { media?: true }> {
      const claim = await claimTurn(db, input.messageId, {
        debounceMs: config.reply.debounceMs,
        debounceMaxMs: config.reply.debounceMaxMs,
        maxTurnWaitMs: config.reply.maxTurnWaitMs,
      });
      if (claim.kind === 'closed' && claim.released) {
        // Closed now (a person holds the conversation): the next message in line hears of it.
        await nudge(claim.released);
        metrics.messageOutcome(`${claim.status}:bot_paused`);
        return { kind: 'closed', status: claim.status };
      }
      if (claim.kind === 'turn' && (await turnHasMedia(db, claim.turnId))) return { ...claim, media: true };
      return claim;
    },

    /** Marks an inbound message read at Meta (best effort: the reply matters more). */
    async markInboundRead(input: { messageId: number }): Promise<void> {
      const message = await readReceiptTarget(db, input.messageId);
      if (!message?.wamid || !message.integration_id) return;
      const token = await readIntegrationToken(db, config.keyring, message.integration_id);
      if (!token) return;
      try {
        await graph.markRead(token, message.phone_number_id, message.wamid);
      } catch (error) {
        if (error instanceof GraphError && error.kind === 'transient') throw toActivityFailure(error);
      }
    },

    /**
     * Marks the turn's newest message read with the typing indicator, unless the turn no longer
     * needs it (see typingTarget); answers whether it was shown. Best effort, like markInboundRead.
     */
    async showTyping(input: { turnId: number; repeat?: boolean }): Promise<boolean> {
      const target = await typingTarget(db, input.turnId, { repeat: input.repeat ?? false });
      if (!target) return false;
      const token = await readIntegrationToken(db, config.keyring, target.integration_id);
      if (!token) return false;
      try {
        await graph.markRead(token, target.phone_number_id, target.wamid, { typing: true });
        return true;
      } catch (error) {
        if (error instanceof GraphError && error.kind === 'transient') throw toActivityFailure(error);
        return false;
      }
    },

    async respondByRules(input: { turnId: number; fallback?: boolean }): Promise<Drafted> {
      const context = await turnContext(db, input.turnId);
      if (!context) return { kind: 'no_reply' };
      const { request, settings } = context;
      const text = autoReplyText(settings, config.reply.defaultText);
      return draft(
        input.turnId,
        answerOf(await new RulesResponder(text, settings.welcomeText).reply(request)),
        input.fallback ? 'rules_fallback' : 'rules',
      );
    },

    async respondByHttp(input: { turnId: number }): Promise<Drafted> {
      if (!http) throw responderNotConfigured();
      const context = await turnContext(db, input.turnId);
      if (!context) return { kind: 'no_reply' };
      const request = await withMedia(input.turnId, context.request);
      const version = context.settings.brainVersion ?? 1;
      try {
        const answer =
          version === 2
            ? await http.answer(
                await brainRequestV2(
                  db,
                  { ...context, request },
                  context.settings.brainHistoryMessages ?? DEFAULT_BRAIN_HISTORY,
                ),
              )
            : answerOf(await http.reply(request));
        return await draft(input.turnId, answer, 'http');
      } catch (error) {
        if (error instanceof ReplyServiceError) {
          // Kept on the turn: the auto-reply that answers instead shows why.
          await recordResponderError(db, input.turnId, error.message);
          throw responderFailure(error);
        }
        throw error;
      }
    },

    /**
     * Sends the turn's reply exactly once: the outbound row is reserved before the call and completed
     * with Meta's id after; every send carries the row id as biz_opaque_callback_data, so an unknown
     * outcome is settled by the status that echoes it.
     */
    async sendTurnReply(input: { outboundId: number }): Promise<TurnSendOutcome> {
      const reservation = await reserveSend(db, input.outboundId, {
        graceMs: config.reply.unknownOutcomeGraceMs,
        maxReplyLatenessMs: config.reply.maxReplyLatenessMs,
      });
      if (reservation.kind === 'wait') return { outcome: 'wait' };
      if (reservation.kind === 'done') {
        await nudge(reservation.released);
        return { outcome: 'replied' };
      }
      if (reservation.kind === 'closed') {
        await nudge(reservation.released);
        metrics.messageOutcome(`${reservation.status}:${reservation.reason}`);
        return { outcome: 'closed', status: reservation.status, reason: reservation.reason };
      }
      const { turnId } = reservation;
      const abandon = async (status: 'unanswered' | 'failed', reason: string, detail: Record<string, unknown>) => {
        await nudge(await abandonTurn(db, turnId, status, { ...detail, reason }));
        metrics.messageOutcome(`${status}:${reason}`);
        return { outcome: 'closed' as const, status, reason };
      };
      const result = await sendRow(deps, {
        ...reservation,
        outboundId: input.outboundId,
        message: { ...metaContent(reservation.content), replyTo: reservation.replyTo },
        detail: graphDetail,
      });
      if ('noToken' in result) return abandon('unanswered', 'integration_inactive', {});
      if ('refused' in result) {
        const error = result.refused;
        const detail = graphDetail(error);
        if (error.kind === 'reauth') return abandon('unanswered', 'needs_reauth', detail);
        if (error.kind === 'window_closed') return abandon('unanswered', 'outside_24h_window', detail);
        if (error.code === 131062) return abandon('failed', 'bsuid_not_allowed', detail);
        return abandon('failed', 'meta_error', detail);
      }
      const messageId = result.sent;
      // Meta accepted it: from here the id must not be lost. If PostgreSQL is away right now, it
      // travels in the activity result (Temporal's history) and the workflow records it.
      try {
        await nudge(await completeSend(db, input.outboundId, messageId));
        metrics.messageOutcome('replied');
        log.info('reply step done', { outboundId: input.outboundId, outcome: 'replied' });
        return { outcome: 'replied' };
      } catch {
        return { outcome: 'replied', unrecorded: { wamid: messageId } };
      }
    },

    async recordTurnSent(input: { outboundId: number; wamid: string }): Promise<void> {
      await nudge(await completeSend(db, input.outboundId, input.wamid));
    },

    async abandonTurn(input: {
      turnId: number;
      status: 'failed' | 'unanswered';
      reason: string;
      detail?: string;
    }): Promise<void> {
      await nudge(
        await abandonTurn(db, input.turnId, input.status, {
          reason: input.reason,
          ...(input.detail ? { detail: input.detail } : {}),
        }),
      );
    },

    /** Closes one message (a disconnect cancelled its workflow); a turn it held is released. */
    async closeInboundMessage(input: {
      messageId: number;
      status: 'unanswered' | 'failed';
      reason: string;
    }): Promise<void> {
      await nudge(await closeInboundMessage(db, input.messageId, input.status, { reason: input.reason }));
    },
  };
}
