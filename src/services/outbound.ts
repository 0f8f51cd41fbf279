// Sends the business starts: each request is checked, written with its SendMessage start in one
// transaction (so Temporal being away still answers 202 and the outbox drain starts it later),
// and answered with the send's row. The same idempotency key with the same body answers
// the first result again; with another body it is refused.
import { sha256Hex } from '../crypto.js';
import { z } from 'zod';
import type { Db } from '../db.js';
import { DomainError } from '../errors.js';
import { sendRequest, type SendRequest } from '../meta/outbound-message.js';
import type { MessageRow, MessageStatusRow } from '../store/tables.js';
import { acceptSends, readSend, sendingNumbers, type NewSend, type SendingNumber } from '../store/outbound.js';
import { workflowTypes, sendMessageWorkflowId, taskQueueFor } from '../temporal/names.js';
import { startAfterCommit, type WebhookDeps } from './webhooks.js';

export const idempotencyKey = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[\x21-\x7e]+$/, 'printable ASCII, no spaces');

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object')
    return `{${Object.keys(value)
      .sort()
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(value);
}

/** A send as accepted (its row), or why it was refused. */
export type ItemResult = { ok: true; row: MessageRow } | { ok: false; error: DomainError };

interface Item {
  key: string;
  body: unknown;
}

const refused = (error: DomainError): ItemResult => ({ ok: false, error });

function parseItem(body: unknown): { request: SendRequest } | { error: ItemResult } {
  const parsed = sendRequest.safeParse(body);
  if (!parsed.success)
    return { error: refused(new DomainError('invalid', 'invalid_request', z.prettifyError(parsed.error))) };
  return { request: parsed.data as SendRequest };
}

function numberFor(numbers: SendingNumber[], request: SendRequest): SendingNumber | ItemResult {
  if (request.phoneNumberId) {
    const number = numbers.find((n) => n.phoneNumberId === request.phoneNumberId);
    return (
      number ??
      refused(new DomainError('not_found', 'phone_number_not_found', 'this business has no active number with that id'))
    );
  }
  if (numbers.length === 0)
    return refused(new DomainError('conflict', 'not_connected', 'this business has no connected number'));
  if (numbers.length > 1)
    return refused(
      new DomainError(
        'invalid',
        'phone_number_required',
        'this business has several numbers: name one in phoneNumberId',
      ),
    );
  return numbers[0]!;
}

/**
 * Accepts sends (one, or a batch), each under its own idempotency key; `agentId` tags them as a
 * person's sends (origin agent, paced before bulk sends).
 */
export async function acceptMessages(
  deps: WebhookDeps,
  businessId: string,
  items: Item[],
  agentId: string | null = null,
): Promise<ItemResult[]> {
  const numbers = await sendingNumbers(deps.db, businessId);
  const results: Array<ItemResult | undefined> = items.map(() => undefined);
  const sends: Array<{ index: number; send: NewSend }> = [];
  const seen = new Map<string, number>();
  items.forEach((item, index) => {
    const parsed = parseItem(item.body);
    if ('error' in parsed) return void (results[index] = parsed.error);
    const number = numberFor(numbers, parsed.request);
    if ('ok' in number) return void (results[index] = number);
    const keyHash = sha256Hex(item.key);
    const requestHash = sha256Hex(canonical(parsed.request));
    const earlier = seen.get(keyHash);
    if (earlier !== undefined && sends[earlier]!.send.requestHash !== requestHash)
      return void (results[index] = refused(
        new DomainError('conflict', 'idempotency_key_reused', 'this key was used with another body'),
      ));
    seen.set(keyHash, sends.length);
    sends.push({
      index,
      send: {
        keyHash,
        requestHash,
        request: parsed.request,
        number,
        agentId,
        start: (outboundId) => ({
          taskQueue: taskQueueFor(deps.config.temporal.taskQueue, workflowTypes.sendMessage),
          workflowType: workflowTypes.sendMessage,
          workflowId: sendMessageWorkflowId(businessId, keyHash),
          args: [outboundId],
          businessId,
          integrationId: number.integrationId,
          messageId: null,
        }),
      },
    });
  });
  const accepted = await acceptSends(
    deps.db,
    businessId,
    sends.map((s) => s.send),
  );
  accepted.forEach((outcome, i) => {
    results[sends[i]!.index] =
      outcome.kind === 'key_reused'
        ? refused(
            new DomainError('conflict', 'idempotency_key_reused', 'this idempotency key was used with another body'),
          )
        : { ok: true, row: outcome.row };
  });
  void startAfterCommit(
    deps,
    accepted.flatMap((a) => (a.kind === 'accepted' && a.start ? [a.start] : [])),
  );
  return results.map((r) => r!);
}

export const messageNotFound = () =>
  new DomainError('not_found', 'message_not_found', 'no send of this business has that id');

/** One of the business's sends, with the statuses Meta reported for it. */
export async function readMessage(
  db: Db,
  businessId: string,
  id: number,
): Promise<{ row: MessageRow; statuses: MessageStatusRow[] }> {
  const found = await readSend(db, businessId, id);
  if (!found) throw messageNotFound();
  return found;
}
