// The HTTP responder: the business's "AI brain" gets each message, signed, and its answer is sent.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signReplyRequest } from '../src/reply/http.js';
import { connectedIntegration } from './helpers/connected.js';
import { getStatus } from './helpers/meta-flow.js';
import { startStack, type Stack } from './helpers/stack.js';

const BRAIN_SECRET = 'brain-secret-for-tests-0123456789';

type Behaviour = (body: Record<string, unknown>) => { status: number; json?: unknown; delayMs?: number };

describe('HTTP responder (REPLY_WEBHOOK_URL)', () => {
  let brain: Server;
  let stack: Stack;
  let behaviour: Behaviour = () => ({ status: 200, json: { reply: null } });
  const received: Array<{ body: Record<string, unknown>; signatureOk: boolean }> = [];

  beforeAll(async () => {
    brain = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString();
        const body = JSON.parse(raw) as Record<string, unknown>;
        received.push({
          body,
          signatureOk: req.headers['x-waconnect-signature-256'] === signReplyRequest(raw, BRAIN_SECRET),
        });
        const answer = behaviour(body);
        setTimeout(() => {
          res.statusCode = answer.status;
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify(answer.json ?? {}));
        }, answer.delayMs ?? 0);
      });
    });
    await new Promise<void>((resolve) => brain.listen(0, '127.0.0.1', resolve));
    const { port } = brain.address() as AddressInfo;
    stack = await startStack({
      api: true,
      sandbox: true,
      env: {
        REPLY_WEBHOOK_URL: `http://127.0.0.1:${port}/reply`,
        REPLY_WEBHOOK_SECRET: BRAIN_SECRET,
        REPLY_WEBHOOK_TIMEOUT_MS: '500',
      },
    });
  });
  afterAll(async () => {
    await stack?.close();
    brain?.closeAllConnections();
    await new Promise((resolve) => brain?.close(resolve));
  });

  async function conversation() {
    const { businessId } = await connectedIntegration(stack);
    const status = await getStatus(stack.api!.url, businessId);
    const phoneNumberId = status.accounts[0].phoneNumbers[0].phoneNumberId as string;
    const from = `31${Date.now() % 1e9}`;
    const send = (text: string) =>
      stack.sandbox!.state.sendCustomerMessage({ phoneNumberId, from, type: 'text', text }).messageId;
    const sentFor = (wamid: string) =>
      stack
        .sandbox!.state.calls({ operation: 'messages.send' })
        .filter((c) => c.messageContextId === wamid && c.effect === 'applied');
    return { businessId, phoneNumberId, from, send, sentFor, integrationId: status.integration.id as string };
  }

  it('posts the message, signed, and sends back the brain’s reply', async () => {
    behaviour = (body) => ({ status: 200, json: { reply: { type: 'text', text: `You said: ${String(body.text)}` } } });
    const c = await conversation();
    const wamid = c.send('What are your hours?');
    await expect.poll(() => c.sentFor(wamid).length, { timeout: 20_000 }).toBe(1);
    expect(c.sentFor(wamid)[0]!.textBody).toBe('You said: What are your hours?');
    const request = received.find((r) => r.body.messageId === wamid)!;
    expect(request.signatureOk).toBe(true);
    expect(request.body).toEqual({
      businessId: c.businessId,
      integrationId: c.integrationId,
      phoneNumberId: c.phoneNumberId,
      from: c.from,
      messageId: wamid,
      type: 'text',
      text: 'What are your hours?',
      timestamp: expect.any(Number),
      customer: {
        id: expect.any(String),
        phone: c.from,
        bsuid: expect.stringMatching(/^US\./),
        name: expect.any(String),
      },
      messages: [{ messageId: wamid, type: 'text', text: 'What are your hours?', timestamp: expect.any(Number) }],
    });
  });

  it('sends nothing when the brain answers {"reply": null}', async () => {
    behaviour = () => ({ status: 200, json: { reply: null } });
    const c = await conversation();
    const wamid = c.send('ok thanks');
    await expect
      .poll(async () => (await stack.db('messages').where({ wamid }).first())?.status, { timeout: 20_000 })
      .toBe('no_reply');
    expect(c.sentFor(wamid)).toHaveLength(0);
  });

  it('retries a brain that errors or times out, then uses its answer', async () => {
    let calls = 0;
    behaviour = () => {
      calls += 1;
      if (calls === 1) return { status: 503 };
      if (calls === 2) return { status: 200, json: { reply: { type: 'text', text: 'too late' } }, delayMs: 1500 };
      return { status: 200, json: { reply: { type: 'text', text: 'third time lucky' } } };
    };
    const c = await conversation();
    const wamid = c.send('hello?');
    await expect.poll(() => c.sentFor(wamid).length, { timeout: 30_000 }).toBe(1);
    expect(c.sentFor(wamid)[0]!.textBody).toBe('third time lucky');
    expect(calls).toBe(3);
  });

  it('falls back to the auto-reply when the brain keeps failing or answers nonsense', async () => {
    behaviour = () => ({ status: 200, json: { answer: 'not the documented shape' } });
    const c = await conversation();
    const wamid = c.send('hi');
    await expect.poll(() => c.sentFor(wamid).length, { timeout: 30_000 }).toBe(1);
    expect(c.sentFor(wamid)[0]!.textBody).toBe(stack.config.reply.defaultText);
    const inboundRow = await stack.db('messages').where({ wamid }).first();
    const reply = await stack.db('messages').where({ in_reply_to: inboundRow!.id }).first();
    expect(reply!.responder).toBe('rules_fallback');
  });
});
