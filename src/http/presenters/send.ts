// A send the business started, as the API answers it: its state in our words, Meta's error, every
// field listed.
import type { ItemResult } from '../../services/outbound.js';
import { failureCode } from '../../meta/outbound-message.js';
import type { MessageRow, MessageStatusRow } from '../../store/tables.js';
import { statusOf } from '../errors.js';

export type SendState = 'queued' | 'sending' | 'sent' | 'delivered' | 'read' | 'failed' | 'expired';

export interface SendView {
  id: number;
  state: SendState;
  /** Meta's message id once Meta accepted the send. */
  messageId: string | null;
  type: string;
  origin: string;
  /** A person's send (origin agent): who sent it. */
  agentId: string | null;
  phoneNumberId: string;
  error: { code: string; message: string; metaCode: number | null } | null;
  statuses: Array<{ status: string; timestamp: string; errors: Array<{ code: number | null; title?: string }> | null }>;
  createdAt: string;
}

const STATE_OF: Record<string, SendState> = {
  pending: 'queued',
  sending: 'sending',
  unknown: 'sending',
  accepted: 'sent',
  sent: 'sent',
  delivered: 'delivered',
  read: 'read',
  played: 'read',
  failed: 'failed',
};

function errorOf(row: MessageRow): SendView['error'] {
  if (row.status !== 'failed' || !row.error) return null;
  const error = row.error as {
    reason?: string;
    message?: string;
    metaCode?: number | null;
    statuses?: Array<{ code?: number; title?: string; message?: string }> | null;
  };
  // A failed status webhook: Meta's error decides the code.
  const reported = error.statuses?.[0];
  if (!error.reason && reported)
    return {
      code: failureCode(reported.code),
      message: reported.message ?? reported.title ?? 'Meta reported the send failed',
      metaCode: reported.code ?? null,
    };
  return {
    code: error.reason ?? 'failed',
    message: error.message ?? 'the send failed',
    metaCode: error.metaCode ?? null,
  };
}

export function sendView(row: MessageRow, statuses: MessageStatusRow[] = []): SendView {
  const error = errorOf(row);
  return {
    id: row.id,
    state: error?.code === 'expired' ? 'expired' : (STATE_OF[row.status] ?? 'queued'),
    messageId: row.wamid,
    type: row.type,
    origin: row.origin,
    agentId: row.agent_id,
    phoneNumberId: row.phone_number_id,
    error,
    statuses: statuses.map((s) => ({
      status: s.status,
      timestamp: s.occurred_at.toISOString(),
      errors: s.errors ? s.errors.map((e) => ({ code: e.code, ...(e.title ? { title: e.title } : {}) })) : null,
    })),
    createdAt: row.created_at.toISOString(),
  };
}

/** One item of a batch: its key, the status a single send would have had, then the send or its refusal. */
export function batchItemView(idempotencyKey: string, result: ItemResult) {
  return {
    idempotencyKey,
    status: result.ok ? 202 : statusOf(result.error),
    ...(result.ok ? sendView(result.row) : { error: { code: result.error.code, message: result.error.message } }),
  };
}
