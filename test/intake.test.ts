// Intake has two ways in: one statement for a delivery of a single message or status (what Meta
// sends most), and the general transaction for everything else. They must write the same rows, and
// whatever the single statement cannot settle must reach the general path with nothing half-written.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseWebhook, type ParsedWebhook } from '../src/meta/webhook-payload.js';
import { intakeNames } from '../src/services/webhooks.js';
import { intakeWebhook } from '../src/store/intake.js';
import { claimTurn } from '../src/store/turns.js';
import { connectedIntegration } from './helpers/connected.js';
import { startStack, type Stack } from './helpers/stack.js';
import { messageItem, messagesWebhook, newWamid } from './helpers/webhooks.js';

describe('intake', () => {
  let stack: Stack;
  beforeAll(async () => {
    // No drain or fast path runs here: rows stay as intake wrote them.
    stack = await startStack({ api: true, sandbox: true, env: { OUTBOX_DRAIN_INTERVAL_MS: '600000' } });
  });
  afterAll(() => stack?.close());

  const connectedNumber = () => connectedIntegration(stack);

  /** A message as Meta sends it: phone, BSUID, both, with a contact entry carrying them. */
  function message(phoneNumberId: string, who: { phone?: string; bsuid?: string; name?: string }, text: string) {
    const item = messageItem({ phoneNumberId, from: who.phone ?? '', text });
    if (who.bsuid) item.from_user_id = who.bsuid;
    return parseWebhook(
      messagesWebhook(phoneNumberId, {
        messages: [item],
        contacts: [
          {
            profile: { name: who.name ?? 'Customer' },
            ...(who.phone ? { wa_id: who.phone } : {}),
            ...(who.bsuid ? { user_id: who.bsuid } : {}),
          },
        ],
      }),
    );
  }
  /** The same delivery with one more item (a status for a message nobody knows), so it takes the general path. */
  const viaGeneralPath = (parsed: ParsedWebhook): ParsedWebhook => ({
    ...parsed,
    statuses: [
      {
        wamid: newWamid(),
        status: 'delivered',
        phoneNumberId: parsed.messages[0]!.phoneNumberId,
        recipientId: null,
        occurredAt: Date.now(),
        errors: null,
      },
    ],
  });

  async function written(businessId: string) {
    const customers = await stack.db('customers').where({ business_id: businessId }).orderBy('id');
    const conversations = await stack.db('conversations').where({ business_id: businessId }).orderBy('id');
    const messages = await stack.db('messages').where({ business_id: businessId }).orderBy('id');
    // Without the template sync the connect itself asked for: this is about what intake starts.
    const starts = await stack
      .db('workflow_starts')
      .where({ business_id: businessId })
      .whereNot({ workflow_type: 'syncTemplates' })
      .orderBy('id');
    const customerIndex = new Map(customers.map((c, i) => [c.id, i]));
    const conversationIndex = new Map(conversations.map((c, i) => [c.id, i]));
    const messageIndex = new Map(messages.map((m, i) => [m.id, i]));
    return {
      customers: customers.map((c) => ({
        phone: c.phone !== null,
        bsuid: c.bsuid !== null,
        name: c.profile_name,
      })),
      conversations: conversations.map((c) => ({
        customer: customerIndex.get(c.customer_id),
        last: c.last_sequence,
        mode: c.mode,
      })),
      messages: messages.map((m) => ({
        customer: customerIndex.get(m.customer_id!),
        conversation: conversationIndex.get(m.conversation_id!),
        sequence: m.sequence,
        status: m.status,
        error: m.error,
        body: m.body,
        type: m.type,
        phone: m.customer_wa_id !== null,
      })),
      starts: starts.map((s) => ({
        message: messageIndex.get(s.message_id!),
        type: s.workflow_type,
        args: s.args.length,
        workflowId: s.workflow_id.replace(/\d+$/, ''),
        started: s.started_at,
      })),
    };
  }

  it('writes the same rows through the single statement and through the general path', async () => {
    const fast = await connectedNumber();
    const general = await connectedNumber();
    const names = intakeNames(stack.config);
    const suffix = String(Date.now() % 1e8);
    const people = {
      // Phone alone, twice; a BSUID alone; both, new then known; a phone that later comes with its
      // BSUID (a link to make: the general path), then the linked pair again.
      a: { phone: `491${suffix}1` },
      b: { bsuid: `DE.${suffix}b`, name: 'Ana' },
      c: { phone: `491${suffix}3`, bsuid: `DE.${suffix}c` },
      d: { phone: `491${suffix}4` },
      e: { phone: `491${suffix}4`, bsuid: `DE.${suffix}e` },
    };
    const script = (who: keyof typeof people) => people[who];
    const steps: Array<keyof typeof people> = ['a', 'a', 'b', 'c', 'c', 'd', 'e', 'e', 'b'];
    let statements = 0;
    const count = () => void statements++;
    const perStep: number[] = [];
    for (const [i, who] of steps.entries()) {
      statements = 0;
      stack.db.on('query', count);
      const fastResult = await intakeWebhook(stack.db, message(fast.phoneNumberId, script(who), `m${i}`), names);
      stack.db.off('query', count);
      perStep.push(statements);
      const generalResult = await intakeWebhook(
        stack.db,
        viaGeneralPath(message(general.phoneNumberId, script(who), `m${i}`)),
        names,
      );
      expect(fastResult.stored).toBe(1);
      expect(generalResult.stored).toBe(1);
      expect(fastResult.starts.map((s) => s.workflow_type)).toEqual(generalResult.starts.map((s) => s.workflow_type));
    }
    // One round trip each, except where a phone already known meets its BSUID (a link to make).
    expect(perStep.map((n) => (n === 1 ? 1 : 'more'))).toEqual([1, 1, 1, 1, 1, 1, 'more', 1, 1]);
    const a = await written(fast.businessId);
    const b = await written(general.businessId);
    expect(a).toEqual(b);
    expect(a.customers).toHaveLength(4);
    expect(a.messages.map((m) => m.sequence)).toEqual([1, 2, 1, 1, 2, 1, 2, 3, 2]);
    expect(a.starts).toHaveLength(9);
  }, 60_000);

  it('stores a redelivered message once on the single statement', async () => {
    const { businessId, phoneNumberId } = await connectedNumber();
    const parsed = message(phoneNumberId, { phone: `492${Date.now() % 1e8}` }, 'once');
    const names = intakeNames(stack.config);
    await intakeWebhook(stack.db, parsed, names);
    const again = await intakeWebhook(stack.db, parsed, names);
    expect(again).toMatchObject({ stored: 0, duplicates: 1, starts: [] });
    expect(await stack.db('messages').where({ business_id: businessId })).toHaveLength(1);
    expect(
      await stack.db('workflow_starts').where({ business_id: businessId }).whereNot({ workflow_type: 'syncTemplates' }),
    ).toHaveLength(1);
  }, 30_000);

  it('hands an item PostgreSQL refuses to the general path, which keeps it as rejected and starts nothing', async () => {
    const { businessId, phoneNumberId } = await connectedNumber();
    // A constraint PostgreSQL checks (23514) refuses this one body: the single statement fails as a whole.
    await stack.db.raw(
      `ALTER TABLE messages ADD CONSTRAINT test_refused_body CHECK (body IS DISTINCT FROM 'refuse me') NOT VALID`,
    );
    const parsed = message(phoneNumberId, { phone: `493${Date.now() % 1e8}` }, 'refuse me');
    const rejected = () =>
      stack.db('rejected_items').where({ kind: 'message' }).count<{ count: string }[]>({ count: '*' });
    const before = Number((await rejected())[0]!.count);
    const result = await intakeWebhook(stack.db, parsed, intakeNames(stack.config));
    expect(result).toMatchObject({ stored: 0, rejected: 1, starts: [] });
    expect(Number((await rejected())[0]!.count)).toBe(before + 1);
    expect(await stack.db('messages').where({ business_id: businessId })).toHaveLength(0);
    expect(
      await stack.db('workflow_starts').where({ business_id: businessId }).whereNot({ workflow_type: 'syncTemplates' }),
    ).toHaveLength(0);
    await stack.db.raw('ALTER TABLE messages DROP CONSTRAINT test_refused_body');
  }, 30_000);

  describe('a revoke', () => {
    const revokeOf = (phoneNumberId: string, from: string, original: string) =>
      messageItem({ phoneNumberId, from, type: 'revoke', extra: { revoke: { original_message_id: original } } });
    const deliver = (phoneNumberId: string, ...items: Array<Record<string, unknown>>) =>
      intakeWebhook(
        stack.db,
        parseWebhook(messagesWebhook(phoneNumberId, { messages: items })),
        intakeNames(stack.config),
      );
    const byWamid = (wamid: string) => stack.db('messages').where({ wamid }).first();
    const settings = { debounceMs: 0, debounceMaxMs: 0, maxTurnWaitMs: 300_000 };

    it('closes the waiting head it names, and the line passes to the next waiting message', async () => {
      const { phoneNumberId } = await connectedNumber();
      const from = `494${Date.now() % 1e8}`;
      const m1 = messageItem({ phoneNumberId, from, text: 'one' });
      const m2 = messageItem({ phoneNumberId, from, text: 'two' });
      await deliver(phoneNumberId, m1);
      await deliver(phoneNumberId, m2);
      const first = (await byWamid(String(m1.id)))!;
      // Alone in its delivery, the revoke still takes the general path (the single statement cannot close m1).
      const result = await deliver(phoneNumberId, revokeOf(phoneNumberId, from, String(m1.id)));
      expect(result).toMatchObject({ stored: 1, starts: [] });
      expect(await byWamid(String(m1.id))).toMatchObject({ status: 'no_reply', error: { reason: 'revoked' } });
      expect((await stack.db('workflow_starts').where({ message_id: first.id }).first())!.done_at).not.toBeNull();
      const second = (await byWamid(String(m2.id)))!;
      expect(second.status).toBe('received');
      expect(await claimTurn(stack.db, second.id, settings)).toMatchObject({ kind: 'turn' });
    }, 30_000);

    it('leaves a message already frozen into a turn, and starts nothing for one revoked in the same delivery', async () => {
      const { phoneNumberId } = await connectedNumber();
      const from = `495${Date.now() % 1e8}`;
      const m1 = messageItem({ phoneNumberId, from, text: 'one' });
      await deliver(phoneNumberId, m1);
      const first = (await byWamid(String(m1.id)))!;
      expect(await claimTurn(stack.db, first.id, settings)).toMatchObject({ kind: 'turn' });
      await deliver(phoneNumberId, revokeOf(phoneNumberId, from, String(m1.id)));
      expect(await byWamid(String(m1.id))).toMatchObject({ status: 'received', turn_id: expect.any(Number) });

      const m2 = messageItem({ phoneNumberId, from, text: 'two' });
      const result = await deliver(phoneNumberId, m2, revokeOf(phoneNumberId, from, String(m2.id)));
      expect(result).toMatchObject({ stored: 2, starts: [] });
      expect(await byWamid(String(m2.id))).toMatchObject({ status: 'no_reply', error: { reason: 'revoked' } });
    }, 30_000);

    it('closes nothing of another customer', async () => {
      const { phoneNumberId } = await connectedNumber();
      const m1 = messageItem({ phoneNumberId, from: `496${Date.now() % 1e8}`, text: 'mine' });
      await deliver(phoneNumberId, m1);
      await deliver(phoneNumberId, revokeOf(phoneNumberId, `497${Date.now() % 1e8}`, String(m1.id)));
      expect((await byWamid(String(m1.id)))!.status).toBe('received');
    }, 30_000);
  });
});
