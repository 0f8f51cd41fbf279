// One send to Meta, made the same way by every send path (a customer's reply, a business-initiated
// send, and the reply of executions older than turns): the number's token, a slot from the pacer,
// the call, and Meta's refusal sorted. A transient refusal puts the row back and fails the attempt
// for Temporal to retry; a refused token marks the integration for re-authorization; 133010 flags
// the number as no longer registered. The caller records what came of it.
import { GraphError, type GraphOutcome } from '../src/meta/graph-errors.js';
import { markNeedsReauth, readIntegrationToken } from '../src/store/integrations.js';
import type { PacedNumber, SendPriority } from '../src/store/pacer.js';
import { flagNotRegistered } from '../src/store/registration.js';
import { releaseSend } from '../src/store/turns.js';
import { pacedFailure, toActivityFailure } from '../src/temporal/failures.js';
import type { ActivityDeps } from './deps.js';
import { waitForSendSlot } from './pace.js';

export interface MetaSend {
  integrationId: string;
  phoneNumberId: string;
  number: PacedNumber | undefined;
  /** The pair-rate key: the customer's phone or BSUID. */
  recipient: string | null | undefined;
  priority?: SendPriority;
  attempt?: number;
  call: (token: string) => Promise<{ messageId: string }>;
  /** Puts the row back to be sent again: not sent (paced), or Meta's transient refusal. */
  release: (
    outcome: GraphOutcome,
    why: { reason: 'paced' } | { reason: 'meta_error'; error: GraphError },
  ) => Promise<void>;
}

export type MetaSendResult = { sent: string } | { noToken: true } | { refused: GraphError };

export async function sendThroughMeta(
  { db, config }: Pick<ActivityDeps, 'db' | 'config'>,
  send: MetaSend,
): Promise<MetaSendResult> {
  const token = await readIntegrationToken(db, config.keyring, send.integrationId);
  if (!token) return { noToken: true };
  const paced = await waitForSendSlot(db, send.phoneNumberId, send.number, {
    recipient: send.recipient,
    ...(send.priority ? { priority: send.priority } : {}),
    ...(send.attempt ? { attempt: send.attempt } : {}),
  });
  if (paced) {
    // Not sent: the row goes back to pending, so the retry sends without waiting for a grace.
    await send.release('not_sent', { reason: 'paced' });
    throw pacedFailure(paced.retryInMs);
  }
  try {
    const { messageId } = await send.call(token);
    return { sent: messageId };
  } catch (error) {
    if (!(error instanceof GraphError)) throw error;
    if (error.kind === 'transient') {
      await send.release(error.outcome, { reason: 'meta_error', error });
      throw toActivityFailure(error);
    }
    if (error.kind === 'reauth') await markNeedsReauth(db, send.integrationId, error.summary);
    // 133010: Meta no longer has the number registered; status asks the business to register it.
    if (error.code === 133010) await flagNotRegistered(db, send.integrationId, send.phoneNumberId);
    return { refused: error };
  }
}

/** A row of `messages` to send: a customer's reply or a business-initiated send. */
export interface RowSend extends Pick<MetaSend, 'integrationId' | 'phoneNumberId' | 'number' | 'priority' | 'attempt'> {
  outboundId: number;
  to: string | null;
  recipient: string | null;
  message: { type: string; content: Record<string, unknown>; replyTo?: string | null };
  /** What the row keeps of a refusal of Meta's when it goes back to be sent again. */
  detail: (error: GraphError) => Record<string, unknown>;
}

/**
 * Sends the row with its id as biz_opaque_callback_data, so a send whose outcome is unknown is
 * settled by the status that echoes it; a row sent again goes back to pending first.
 */
export function sendRow(deps: Pick<ActivityDeps, 'db' | 'config' | 'graph'>, row: RowSend): Promise<MetaSendResult> {
  const { db, graph } = deps;
  return sendThroughMeta(deps, {
    integrationId: row.integrationId,
    phoneNumberId: row.phoneNumberId,
    number: row.number,
    recipient: row.to ?? row.recipient,
    ...(row.priority ? { priority: row.priority } : {}),
    ...(row.attempt ? { attempt: row.attempt } : {}),
    call: (token) =>
      graph.sendMessage(token, row.phoneNumberId, {
        to: row.to,
        recipient: row.recipient,
        ...row.message,
        callbackData: String(row.outboundId),
      }),
    release: (outcome, why) =>
      releaseSend(db, row.outboundId, outcome, 'error' in why ? { ...row.detail(why.error), reason: why.reason } : why),
  });
}
