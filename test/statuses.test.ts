// Delivery statuses against the real database: recorded once, moving only forward, and kept
// when they arrive before the reply row knows its Meta id.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordStatuses } from '../src/store/messages.js';
import { completeReply, reserveReply } from '../src/store/replies.js';
import { newWamid } from './helpers/webhooks.js';
import { startStack, type Stack } from './helpers/stack.js';

describe('delivery statuses', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ worker: false });
  });
  afterAll(() => stack?.close());

  async function inboundRow() {
    const [row] = await stack
      .db('messages')
      .insert({
        direction: 'inbound',
        wamid: newWamid(),
        phone_number_id: 'PN',
        customer_wa_id: `c${Math.random()}`,
        type: 'text',
        sent_at: new Date(),
        status: 'received',
      })
      .returning('*');
    return row!;
  }
  const event = (wamid: string, status: 'sent' | 'delivered' | 'read' | 'failed', at = Date.now()) => ({
    wamid,
    status,
    phoneNumberId: 'PN',
    recipientId: 'c',
    occurredAt: at,
    errors: status === 'failed' ? [{ code: 131026, title: 'Message undeliverable', message: null }] : null,
  });

  it('applies statuses that arrived before the reply row knew its wamid', async () => {
    const inbound = await inboundRow();
    const wamid = newWamid();
    await recordStatuses(stack.db, [event(wamid, 'delivered'), event(wamid, 'sent')]);
    const reservation = await reserveReply(stack.db, { inboundId: inbound.id, text: 'hi', responder: 'rules' }, 1000);
    expect(reservation.kind).toBe('send');
    await completeReply(stack.db, (reservation as { replyId: number }).replyId, inbound.id, wamid);
    expect((await stack.db('messages').where({ wamid }).first())!.status).toBe('delivered');
  });

  it('moves only forward and records each status once', async () => {
    const inbound = await inboundRow();
    const wamid = newWamid();
    const reservation = (await reserveReply(
      stack.db,
      { inboundId: inbound.id, text: 'hi', responder: 'rules' },
      1000,
    )) as { replyId: number };
    await completeReply(stack.db, reservation.replyId, inbound.id, wamid);
    await recordStatuses(stack.db, [event(wamid, 'read')]);
    const again = await recordStatuses(stack.db, [event(wamid, 'read'), event(wamid, 'delivered')]);
    expect(again.recorded).toBe(1);
    expect((await stack.db('messages').where({ wamid }).first())!.status).toBe('read');
    await recordStatuses(stack.db, [event(wamid, 'failed')]);
    const failed = await stack.db('messages').where({ wamid }).first();
    expect(failed!.status).toBe('failed');
    expect(failed!.error).toEqual({ statuses: [{ code: 131026, title: 'Message undeliverable', message: null }] });
    expect(await stack.db('message_statuses').where({ wamid })).toHaveLength(3);
  });

  it('reserves one reply per inbound message, however often it is asked', async () => {
    const inbound = await inboundRow();
    const first = (await reserveReply(stack.db, { inboundId: inbound.id, text: 'a', responder: 'rules' }, 1000)) as {
      replyId: number;
    };
    const wamid = newWamid();
    await completeReply(stack.db, first.replyId, inbound.id, wamid);
    const again = await Promise.all(
      [1, 2, 3].map(() => reserveReply(stack.db, { inboundId: inbound.id, text: 'a', responder: 'rules' }, 1000)),
    );
    expect(again).toEqual([1, 2, 3].map(() => ({ kind: 'done', replyId: first.replyId, wamid })));
    expect(await stack.db('messages').where({ in_reply_to: inbound.id })).toHaveLength(1);
  });
});
