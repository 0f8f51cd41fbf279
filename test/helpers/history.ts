// A workflow's history as Temporal stores it and as the codec decodes it: what tests search for
// message text, phone numbers and BSUIDs that must never be there.
import type { Payload } from '@temporalio/common';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { EncryptionCodec } from '../../src/temporal/codec.js';
import type { Stack } from './stack.js';

export interface HistoryTexts {
  /** The history as JSON, payloads as stored (encrypted). */
  raw: string;
  /** Every payload's data as stored. */
  stored: string;
  /** Every payload (inputs, results, failures, headers) decoded. */
  plaintext: string;
  payloads: number;
}

export async function historyTexts(stack: Stack, workflowId: string): Promise<HistoryTexts> {
  const history = await stack.client.workflow.getHandle(workflowId).fetchHistory();
  const payloads: Payload[] = [];
  const collect = (value: unknown): void => {
    if (!value || typeof value !== 'object' || ArrayBuffer.isView(value)) return;
    if (Array.isArray(value)) return value.forEach(collect);
    const record = value as Record<string, unknown>;
    if (record.data && ArrayBuffer.isView(record.data) && record.metadata && typeof record.metadata === 'object') {
      payloads.push(record as Payload);
      return;
    }
    Object.values(record).forEach(collect);
  };
  collect(history);
  const decoded = await new EncryptionCodec(stack.config.codecKeyring).decode(payloads);
  const text = (list: Payload[]) => list.map((p) => Buffer.from(p.data ?? []).toString('utf8')).join('\n');
  return { raw: historyToJSON(history), stored: text(payloads), plaintext: text(decoded), payloads: payloads.length };
}
