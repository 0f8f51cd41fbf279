// Two connected businesses side by side, each with a customer who wrote in: neither can take the
// other's number, page into the other's messages or conversations, change the other's settings,
// hand over the other's conversation, or erase the other's customer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { erasureWorkflowId } from '../src/temporal/names.js';
import { tokenFor } from './helpers/jwt.js';
import { connectedIntegration } from './helpers/connected.js';
import { connectThroughMeta, getStatus } from './helpers/meta-flow.js';
import { newBusinessId } from './helpers/factories.js';
import { DASHBOARD_URL, startStack, type Stack } from './helpers/stack.js';

interface Tenant {
  businessId: string;
  wabaId: string;
  phoneNumberId: string;
  customer: string;
  conversationId: number;
  messageIds: number[];
}

describe('two connected tenants', () => {
  let stack: Stack;
  let api: string;
  let a: Tenant;
  let b: Tenant;

  /** A tenant's agent token: the widest role a business's user can have. */
  const call = async (who: Tenant, method: string, path: string, body?: unknown) => {
    const token = await tokenFor(who.businessId, {
      claims: { role: ['agent', 'admin'], sub: `agent-of-${who.businessId}` },
    });
    const res = await fetch(`${api}/api/integrations/whatsapp/${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      redirect: 'manual',
    });
    return { status: res.status, body: (await res.json().catch(() => null)) as any };
  };

  async function tenant(label: string, customer: string): Promise<Tenant> {
    const { businessId } = await connectedIntegration(stack, { businessId: newBusinessId(label) });
    const status = await getStatus(api, businessId);
    const phoneNumberId = status.accounts[0].phoneNumbers[0].phoneNumberId as string;
    const { messageId } = stack.sandbox!.state.sendCustomerMessage({
      phoneNumberId,
      from: customer,
      type: 'text',
      text: `hi ${label}`,
    });
    // Polled by hand: expect.poll works only inside a test, and this is setup.
    for (const until = Date.now() + 30_000; ;) {
      if ((await stack.db('messages').where({ wamid: messageId }).first())?.status === 'replied') break;
      if (Date.now() > until) throw new Error(`${label}'s customer was not answered`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const row = (await stack.db('messages').where({ wamid: messageId }).first())!;
    const messageIds = (await stack.db('messages').where({ business_id: businessId }).select('id')).map((r) =>
      Number(r.id),
    );
    return {
      businessId,
      wabaId: status.accounts[0].wabaId,
      phoneNumberId,
      customer,
      conversationId: row.conversation_id!,
      messageIds,
    };
  }

  beforeAll(async () => {
    stack = await startStack({ api: true, sandbox: true });
    api = stack.api!.url;
    a = await tenant('tenant-a', '4411100001');
    b = await tenant('tenant-b', '4411100002');
  }, 90_000);
  afterAll(() => stack?.close());

  it('refuses the other tenant’s number: the connect fails number_in_use and the owner keeps it', async () => {
    const { landing } = await connectThroughMeta(api, b.businessId, { decision: 'approve', account: a.wabaId });
    expect(landing.toString()).toBe(`${DASHBOARD_URL}/dashboard/integrations?error=number_in_use`);
    expect((await getStatus(api, a.businessId)).accounts[0].wabaId).toBe(a.wabaId);
    expect((await getStatus(api, b.businessId)).accounts.map((x: { wabaId: string }) => x.wabaId)).toEqual([b.wabaId]);
  });

  it('pages each tenant through its own messages and conversations only, whatever cursor it sends', async () => {
    for (const [me, other] of [
      [a, b],
      [b, a],
    ] as const) {
      // Cursors taken from the other tenant's rows, and none at all.
      for (const before of [Math.max(...other.messageIds) + 1, Math.min(...other.messageIds), undefined]) {
        const query = before === undefined ? '' : `before=${before}&`;
        const messages = await call(me, 'GET', `messages?${query}limit=100`);
        expect(messages.status).toBe(200);
        const ids: number[] = messages.body.messages.map((m: { id: number }) => m.id);
        expect(ids.every((id) => me.messageIds.includes(id))).toBe(true);
        const conversations = await call(me, 'GET', `conversations?${query}`);
        expect(conversations.status).toBe(200);
        const listed: number[] = conversations.body.conversations.map((c: { id: number }) => c.id);
        expect(listed.every((id) => id === me.conversationId)).toBe(true);
        if (before === undefined) {
          expect(ids.sort()).toEqual([...me.messageIds].sort());
          expect(listed).toEqual([me.conversationId]);
        }
      }
      expect((await call(me, 'GET', `conversations/${other.conversationId}`)).status).toBe(404);
    }
  });

  it('keeps settings and handoffs to their own tenant', async () => {
    expect((await call(b, 'PUT', 'settings', { autoReplyText: 'B answers' })).status).toBe(200);
    expect((await call(a, 'GET', 'settings')).body.autoReplyText).toBe(stack.config.reply.defaultText);
    expect((await call(b, 'POST', `conversations/${a.conversationId}/handoff`, { note: 'mine now' })).status).toBe(404);
    expect((await call(b, 'POST', `conversations/${a.conversationId}/release`)).status).toBe(404);
    const conversation = (await stack.db('conversations').where({ id: a.conversationId }).first())!;
    expect(conversation.mode).toBe('bot');
  });

  it('erases only its own customers: the same request names nobody of the other tenant', async () => {
    const erasure = await call(b, 'POST', 'erasures', { phone: a.customer });
    expect(erasure.status).toBe(202);
    await stack.client.workflow.getHandle(erasureWorkflowId(erasure.body.id)).result();
    expect(await stack.db('customers').where({ business_id: a.businessId, phone: a.customer })).toHaveLength(1);
    expect(await stack.db('messages').whereIn('id', a.messageIds)).toHaveLength(a.messageIds.length);
    expect((await call(a, 'GET', `erasures/${erasure.body.id}`)).status).toBe(404);
    expect((await call(b, 'GET', `erasures/${erasure.body.id}`)).body.state).toBe('done');
  });
});
