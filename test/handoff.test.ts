// Handoff: a person (the agent role) takes a conversation over from the bot and gives it back, over
// the conversations API. A handoff that comes while the brain is thinking stops that turn's send and
// its typing indicator; messages during a handoff close `agent`, unread and never replayed; release
// and expiry resume the bot; an owner's echo pause and a handoff combine. Real HTTP, PostgreSQL,
// Temporal and the Meta sandbox; the brain is a slow HTTP responder the test holds.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reserveOutbound } from '../src/store/outbound.js';
import { startBrain, type RunningBrain } from './helpers/brain.js';
import { connectedIntegration } from './helpers/connected.js';
import { newBusinessId } from './helpers/factories.js';
import { tokenFor } from './helpers/jwt.js';
import { startStack, type Stack } from './helpers/stack.js';
import { quietPeriod, untilTime } from './helpers/waits.js';

const TYPING_REFRESH_MS = 1_500;

interface BrainRequest {
  messageId: string;
  messages: Array<{ messageId: string }>;
}

describe('handoff', () => {
  let brain: RunningBrain;
  let stack: Stack;
  let api: string;
  const requests: BrainRequest[] = [];
  /** While set, the brain holds its answers until the test lets them go. */
  let holding = false;
  const held: Array<() => void> = [];
  const letGo = () => {
    holding = false;
    for (const answer of held.splice(0)) answer();
  };

  beforeAll(async () => {
    brain = await startBrain<BrainRequest>((body, respond) => {
      requests.push(body);
      const answer = () => respond({ reply: { type: 'text', text: `answer to ${body.messages.length}` } });
      if (holding) held.push(answer);
      else answer();
    });
    stack = await startStack({
      api: true,
      sandbox: true,
      env: {
        REPLY_WEBHOOK_URL: brain.url,
        REPLY_WEBHOOK_SECRET: 'brain-secret-for-handoff-tests-0123',
        REPLY_WEBHOOK_TIMEOUT_MS: '30000',
        TYPING_REFRESH_MS: String(TYPING_REFRESH_MS),
      },
    });
    api = stack.api!.url;
  });
  afterAll(async () => {
    letGo();
    await stack?.close();
    await brain?.close();
  });

  const sandbox = () => stack.sandbox!.state;
  const agentToken = (businessId: string, agentId = 'agent-ann') =>
    tokenFor(businessId, { claims: { role: 'agent', sub: agentId } });
  async function call(token: string, method: string, path: string, body?: unknown) {
    const res = await fetch(`${api}/api/integrations/whatsapp/${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        ...(method === 'POST' && path === 'messages' ? { 'idempotency-key': `k-${Math.random()}` } : {}),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as any };
  }
  const inbound = (wamid: string) => stack.db('messages').where({ wamid, direction: 'inbound' }).first();
  const statusOf = async (wamid: string) => (await inbound(wamid))?.status;
  const typingFor = (wamid: string) =>
    sandbox()
      .calls({ operation: 'messages.read' })
      .filter((c) => c.messageId === wamid && c.effect === 'applied');
  const sendsTo = (wamid: string) =>
    sandbox()
      .calls({ operation: 'messages.send' })
      .filter((c) => c.messageContextId === wamid && c.effect === 'applied');
  const asked = (wamid: string) => requests.some((r) => r.messages.some((m) => m.messageId === wamid));
  async function conversationOf(businessId: string, wamid: string): Promise<number> {
    await expect.poll(async () => (await inbound(wamid))?.conversation_id, { timeout: 20_000 }).toBeTruthy();
    const id = (await inbound(wamid))!.conversation_id!;
    expect((await stack.db('conversations').where({ id }).first())!.business_id).toBe(businessId);
    return id;
  }
  const write = (phoneNumberId: string, from: string, text: string) =>
    sandbox().sendCustomerMessage({ phoneNumberId, from, type: 'text', text }).messageId;
  /** The customer writes first and the bot answers: the conversation exists. */
  async function answered(businessId: string, phoneNumberId: string, from: string, text: string) {
    const first = write(phoneNumberId, from, text);
    await expect.poll(() => statusOf(first), { timeout: 20_000 }).toBe('replied');
    return { id: await conversationOf(businessId, first) };
  }
  /** Absence holds only after the moment it would have happened: wait past it, then look. */
  const pastRefresh = () => quietPeriod(TYPING_REFRESH_MS * 2 + 500);

  it('stops the send and the typing of a turn whose brain was thinking when the handoff came', async () => {
    const { businessId, phoneNumberId } = await connectedIntegration(stack);
    const from = `4915${Date.now() % 1e8}`;
    holding = true;
    const m1 = write(phoneNumberId, from, 'where is my order?');
    await expect.poll(() => asked(m1), { timeout: 20_000 }).toBe(true);
    // The turn's newest message is marked read with the typing indicator as the brain starts.
    await expect.poll(() => typingFor(m1).map((c) => c.typingIndicator), { timeout: 10_000 }).toEqual(['text']);

    const id = await conversationOf(businessId, m1);
    const taken = await call(await agentToken(businessId), 'POST', `conversations/${id}/handoff`, {
      note: 'customer asked for a person',
    });
    expect(taken.status).toBe(200);
    expect(taken.body).toMatchObject({
      id,
      mode: 'agent',
      handoff: { agentId: 'agent-ann', note: 'customer asked for a person', expiresAt: expect.any(String) },
    });
    // Default expiry: 24 hours.
    const expires = Date.parse(taken.body.handoff.expiresAt);
    expect(Math.abs(expires - Date.now() - 24 * 3600_000)).toBeLessThan(60_000);

    // The brain keeps thinking past the refresh: no second typing indicator in agent mode.
    await pastRefresh();
    expect(typingFor(m1)).toHaveLength(1);
    letGo();
    await expect.poll(() => statusOf(m1), { timeout: 20_000 }).toBe('agent');
    expect(sendsTo(m1)).toEqual([]);
    const turn = await stack
      .db('turns')
      .where({ id: (await inbound(m1))!.turn_id! })
      .first();
    expect(turn!.outcome).toBe('agent');
    const events = await stack.db('conversation_events').where({ conversation_id: id });
    expect(events.map((e) => [e.kind, e.agent_id])).toEqual([['handoff', 'agent-ann']]);
  });

  it('shows the typing indicator once more while the brain still thinks, and answers', async () => {
    const { phoneNumberId } = await connectedIntegration(stack);
    const from = `4916${Date.now() % 1e8}`;
    holding = true;
    const m1 = write(phoneNumberId, from, 'a hard question');
    await expect.poll(() => asked(m1), { timeout: 20_000 }).toBe(true);
    await expect.poll(() => typingFor(m1).length, { timeout: 20_000 }).toBe(2);
    letGo();
    await expect.poll(() => statusOf(m1), { timeout: 20_000 }).toBe('replied');
    expect(sendsTo(m1)).toHaveLength(1);
    // At most once again: nothing after the reply either.
    await pastRefresh();
    expect(typingFor(m1).map((c) => c.typingIndicator)).toEqual(['text', 'text']);
  });

  it('closes messages `agent` during a handoff, unread and unasked, tags the agent’s reply, and resumes on release', async () => {
    const { businessId, phoneNumberId } = await connectedIntegration(stack);
    const from = `4917${Date.now() % 1e8}`;
    const { id } = await answered(businessId, phoneNumberId, from, 'hello');
    const token = await agentToken(businessId, 'agent-bob');
    expect((await call(token, 'POST', `conversations/${id}/handoff`)).status).toBe(200);

    const during = [write(phoneNumberId, from, 'I need a human'), write(phoneNumberId, from, 'please')];
    for (const wamid of during) await expect.poll(() => statusOf(wamid), { timeout: 20_000 }).toBe('agent');
    for (const wamid of during) {
      expect(typingFor(wamid)).toEqual([]);
      expect(sendsTo(wamid)).toEqual([]);
      expect(asked(wamid)).toBe(false);
    }

    // The agent answers through the outbound API: origin agent, their id, sent to the customer.
    const sent = await call(token, 'POST', 'messages', { to: from, phoneNumberId, text: 'Hi, Bob here.' });
    expect(sent.status).toBe(202);
    expect(sent.body).toMatchObject({ origin: 'agent', agentId: 'agent-bob' });
    await expect
      .poll(() => stack.db('messages').where({ id: sent.body.id }).first(), { timeout: 20_000 })
      .toMatchObject({ origin: 'agent', agent_id: 'agent-bob', conversation_id: id, wamid: expect.any(String) });
    expect(
      sandbox()
        .calls({ operation: 'messages.send' })
        .filter((c) => c.textBody === 'Hi, Bob here.' && c.to === from),
    ).toHaveLength(1);

    const released = await call(token, 'POST', `conversations/${id}/release`);
    expect(released).toMatchObject({ status: 200, body: { mode: 'bot', handoff: null, botResumesAt: null } });
    const after = write(phoneNumberId, from, 'thanks, one more thing');
    await expect.poll(() => statusOf(after), { timeout: 20_000 }).toBe('replied');
    // Only the new message: the ones during the handoff are not replayed.
    expect(requests.filter((r) => r.messages.some((m) => m.messageId === after)).at(-1)!.messages).toHaveLength(1);
    for (const wamid of during) expect(await statusOf(wamid)).toBe('agent');

    const detail = await call(token, 'GET', `conversations/${id}`);
    expect(detail.status).toBe(200);
    const messages = detail.body.messages as Array<Record<string, unknown>>;
    expect(messages.map((m) => [m.direction, m.origin, m.status === 'agent' ? 'agent' : m.text])).toEqual([
      ['inbound', 'cloud_api', 'hello'],
      ['outbound', 'reply', 'answer to 1'],
      ['inbound', 'cloud_api', 'agent'],
      ['inbound', 'cloud_api', 'agent'],
      ['outbound', 'agent', 'Hi, Bob here.'],
      ['inbound', 'cloud_api', 'thanks, one more thing'],
      ['outbound', 'reply', 'answer to 1'],
    ]);
    await expect
      .poll(
        async () =>
          (await call(token, 'GET', `conversations/${id}`)).body.messages[4].statuses.map((s: any) => s.status),
        {
          timeout: 20_000,
        },
      )
      .toEqual(['sent', 'delivered', 'read']);
    expect(messages[4]).toMatchObject({ agentId: 'agent-bob' });
    expect(detail.body.customer).toMatchObject({ phone: from });
    const events = await stack.db('conversation_events').where({ conversation_id: id }).orderBy('id');
    expect(events.map((e) => [e.kind, e.agent_id])).toEqual([
      ['handoff', 'agent-bob'],
      ['release', 'agent-bob'],
    ]);
  });

  it('resumes the bot when the handoff expires', async () => {
    const { businessId, phoneNumberId } = await connectedIntegration(stack);
    const from = `4918${Date.now() % 1e8}`;
    const { id } = await answered(businessId, phoneNumberId, from, 'hi');
    const token = await agentToken(businessId);
    const expiresAt = new Date(Date.now() + 3_000).toISOString();
    const taken = await call(token, 'POST', `conversations/${id}/handoff`, { expiresAt });
    expect(taken.body).toMatchObject({ mode: 'agent', botResumesAt: expiresAt });
    const during = write(phoneNumberId, from, 'still there?');
    await expect.poll(() => statusOf(during), { timeout: 20_000 }).toBe('agent');
    await expect
      .poll(async () => (await call(token, 'GET', `conversations/${id}`)).body.mode, { timeout: 20_000 })
      .toBe('bot');
    const after = write(phoneNumberId, from, 'hello again');
    await expect.poll(() => statusOf(after), { timeout: 20_000 }).toBe('replied');
    expect(await statusOf(during)).toBe('agent');
  });

  it('pauses the bot until the later of an owner’s echo and a handoff; release leaves the echo’s pause', async () => {
    const account = sandbox().createAccount({ numbers: 1, coexistence: true });
    const phoneNumberId = account.phoneNumberIds[0]!;
    const businessId = newBusinessId();
    await connectedIntegration(stack, { businessId, wabaId: account.wabaId });
    const settings = await call(await agentToken(businessId), 'PUT', 'settings', { botPauseAfterOwnerReplyMs: 6_000 });
    expect(settings.status).toBe(200);
    const from = '4917600054321';
    const { id } = await answered(businessId, phoneNumberId, from, 'hello');
    const token = await agentToken(businessId);

    // A handoff shorter than the echo's pause: the echo's pause decides when the bot resumes.
    const echo = sandbox().sendOwnerEcho(phoneNumberId, from, 'I will answer this one.');
    await expect
      .poll(() => stack.db('messages').where({ wamid: echo.messageId }).first(), { timeout: 20_000 })
      .toBeTruthy();
    const echoPause = (await stack.db('conversations').where({ id }).first())!.bot_paused_until!;
    const taken = await call(token, 'POST', `conversations/${id}/handoff`, {
      expiresAt: new Date(Date.now() + 2_000).toISOString(),
    });
    expect(taken.body).toMatchObject({ mode: 'agent', botPausedUntil: echoPause.toISOString() });
    expect(taken.body.botResumesAt).toBe(echoPause.toISOString());

    // Release ends the handoff, not the owner's pause.
    const released = await call(token, 'POST', `conversations/${id}/release`);
    expect(released.body).toMatchObject({ mode: 'bot', botResumesAt: echoPause.toISOString() });
    const during = write(phoneNumberId, from, 'anyone?');
    await expect.poll(() => statusOf(during), { timeout: 20_000 }).toBe('agent');

    // A longer handoff outlasts the echo: the bot stays silent after the echo's pause ends.
    const later = new Date(Date.now() + 60_000).toISOString();
    expect((await call(token, 'POST', `conversations/${id}/handoff`, { expiresAt: later })).body.botResumesAt).toBe(
      later,
    );
    await untilTime(echoPause.getTime() + 300);
    const afterEcho = write(phoneNumberId, from, 'hello?');
    await expect.poll(() => statusOf(afterEcho), { timeout: 20_000 }).toBe('agent');
    expect(sendsTo(afterEcho)).toEqual([]);
  });

  it('lets only agents hand off and release, and only with a sub naming them', async () => {
    const { businessId, phoneNumberId } = await connectedIntegration(stack);
    const first = write(phoneNumberId, `4919${Date.now() % 1e8}`, 'hi');
    const id = await conversationOf(businessId, first);
    const plain = await tokenFor(businessId);
    const viewer = await tokenFor(businessId, { claims: { role: 'viewer', sub: 'v1' } });
    const nameless = await tokenFor(businessId, { claims: { role: 'agent' } });
    const admin = await tokenFor(businessId, { claims: { role: ['admin'], sub: 'boss' } });
    for (const token of [plain, viewer]) {
      for (const action of ['handoff', 'release']) {
        const res = await call(token, 'POST', `conversations/${id}/${action}`);
        expect(res).toMatchObject({ status: 403, body: { error: { code: 'forbidden' } } });
      }
    }
    expect((await call(nameless, 'POST', `conversations/${id}/handoff`)).status).toBe(403);
    expect((await stack.db('conversations').where({ id }).first())!.mode).toBe('bot');
    // Reading needs no role; an admin may take over too.
    expect((await call(plain, 'GET', 'conversations')).status).toBe(200);
    expect((await call(plain, 'GET', `conversations/${id}`)).status).toBe(200);
    expect((await call(admin, 'POST', `conversations/${id}/handoff`)).body).toMatchObject({
      mode: 'agent',
      handoff: { agentId: 'boss' },
    });
    // Refused input, and a conversation that is not the business's.
    expect((await call(admin, 'POST', `conversations/${id}/handoff`, { expiresAt: 'tomorrow' })).status).toBe(400);
    expect(
      (await call(admin, 'POST', `conversations/${id}/handoff`, { expiresAt: new Date(Date.now() - 1).toISOString() }))
        .status,
    ).toBe(400);
    expect((await call(admin, 'POST', 'conversations/999999999/handoff')).body.error.code).toBe(
      'conversation_not_found',
    );
    // A plain token's sends stay API sends.
    const sent = await call(plain, 'POST', 'messages', { to: '4400011122', phoneNumberId, text: 'plain' });
    expect(sent.body).toMatchObject({ origin: 'api', agentId: null });
  });

  it('reserves an agent’s send at agent pacing priority and an API send at bulk', async () => {
    const { businessId, integrationId, phoneNumberId } = await connectedIntegration(stack);
    const from = `4913${Date.now() % 1e8}`;
    await answered(businessId, phoneNumberId, from, 'hi');
    // Rows as the API writes them, without their workflows: the reservation is what decides.
    const priorityOf = async (origin: 'agent' | 'api') => {
      const [row] = await stack
        .db('messages')
        .insert({
          direction: 'outbound',
          integration_id: integrationId,
          business_id: businessId,
          phone_number_id: phoneNumberId,
          customer_wa_id: from,
          type: 'text',
          body: 'paced',
          content: { request: { to: from, text: 'paced' } },
          sent_at: new Date(),
          status: 'pending',
          origin,
          agent_id: origin === 'agent' ? 'agent-ann' : null,
        } as never)
        .returning('id');
      const reservation = await reserveOutbound(stack.db, row!.id, { graceMs: 15_000 });
      return reservation.kind === 'send' ? reservation.priority : reservation.kind;
    };
    expect(await priorityOf('agent')).toBe('agent');
    expect(await priorityOf('api')).toBe('bulk');
  });

  it('lists conversations by newest activity, paged, filtered by mode and unanswered', async () => {
    const { businessId, phoneNumberId } = await connectedIntegration(stack);
    const token = await agentToken(businessId);
    const customers = ['4420000001', '4420000002', '4420000003'].map((c) => `${c}${Date.now() % 100}`);
    const ids: number[] = [];
    for (const customer of customers) {
      const wamid = write(phoneNumberId, customer, `hello from ${customer}`);
      await expect.poll(() => statusOf(wamid), { timeout: 20_000 }).toBe('replied');
      ids.push(await conversationOf(businessId, wamid));
    }
    // The first customer's conversation goes to an agent and gets a message nobody answers.
    await call(token, 'POST', `conversations/${ids[0]}/handoff`);
    const waiting = write(phoneNumberId, customers[0]!, 'are you there?');
    await expect.poll(() => statusOf(waiting), { timeout: 20_000 }).toBe('agent');

    const all = await call(token, 'GET', 'conversations');
    expect(all.body.conversations.map((c: any) => c.id)).toEqual([ids[0], ids[2], ids[1]]);
    const page1 = await call(token, 'GET', 'conversations?limit=2');
    expect(page1.body.conversations.map((c: any) => c.id)).toEqual([ids[0], ids[2]]);
    expect(page1.body.nextBefore).toEqual(expect.any(Number));
    const page2 = await call(token, 'GET', `conversations?limit=2&before=${page1.body.nextBefore}`);
    expect(page2.body).toMatchObject({ conversations: [{ id: ids[1] }], nextBefore: null });

    const agents = await call(token, 'GET', 'conversations?mode=agent');
    expect(agents.body.conversations.map((c: any) => c.id)).toEqual([ids[0]]);
    expect(agents.body.conversations[0]).toMatchObject({
      mode: 'agent',
      unanswered: true,
      phoneNumberId,
      customer: { phone: customers[0] },
      lastMessage: { direction: 'inbound', text: 'are you there?' },
    });
    expect((await call(token, 'GET', 'conversations?mode=bot')).body.conversations.map((c: any) => c.id)).toEqual([
      ids[2],
      ids[1],
    ]);
    expect(
      (await call(token, 'GET', 'conversations?unanswered=true')).body.conversations.map((c: any) => c.id),
    ).toEqual([ids[0]]);
    expect((await call(token, 'GET', 'conversations?unanswered=false')).body.conversations).toHaveLength(2);
    expect((await call(token, 'GET', 'conversations?mode=robot')).status).toBe(400);
    // Nothing secret in the list: no token, no integration id.
    const { integration_id: integrationId } = (await stack.db('conversations').where({ id: ids[0] }).first())!;
    expect(JSON.stringify(all.body)).not.toContain(String(integrationId));
    expect(JSON.stringify(all.body)).not.toMatch(/token|EAA/i);
  });
});
