// Version 2 of the AI brain's contract, end to end over real HTTP: the example brain in examples/
// answers each kind of answer the contract allows, and a recording brain checks every request we
// post against the schema. The JSON Schemas in docs/brain/ are what the zod schemas say.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../src/paths.js';
import { brainAnswerV2, brainRequestV2, brainSchemas, type BrainRequestV2 } from '../src/reply/contract-v2.js';
import { signReplyRequest } from '../src/reply/http.js';
import { authHeaders } from './helpers/jwt.js';
import { connectedIntegration } from './helpers/connected.js';
import { getStatus } from './helpers/meta-flow.js';
import { startStack, type Stack } from './helpers/stack.js';

const SECRET = 'brain-v2-secret-for-tests-0123456789';

/** The example brain as a user runs it: its own process, on a port it reports. */
async function startExampleBrain(): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [join(projectRoot, 'examples/brain/server.mjs')], {
    env: { ...process.env, REPLY_WEBHOOK_SECRET: SECRET, PORT: '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /listening on (\d+)/.exec(out);
      if (match) resolve(Number(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`the example brain exited (${code})`)));
  });
  return { url: `http://127.0.0.1:${port}/`, child };
}

describe('AI brain, version 2', () => {
  let stack: Stack;
  let brain: { url: string; child: ChildProcess };
  // Requests pass through this recorder on their way to the example brain.
  let recorder: Server;
  const requests: Array<{ body: BrainRequestV2; signatureOk: boolean }> = [];

  beforeAll(async () => {
    brain = await startExampleBrain();
    recorder = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        void (async () => {
          const raw = Buffer.concat(chunks).toString();
          requests.push({
            body: JSON.parse(raw) as BrainRequestV2,
            signatureOk: req.headers['x-waconnect-signature-256'] === signReplyRequest(raw, SECRET),
          });
          const answer = await fetch(brain.url, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              'x-waconnect-signature-256': String(req.headers['x-waconnect-signature-256']),
            },
            body: raw,
          });
          res.writeHead(answer.status, { 'content-type': 'application/json' }).end(await answer.text());
        })();
      });
    });
    await new Promise<void>((resolve) => recorder.listen(0, '127.0.0.1', resolve));
    stack = await startStack({
      api: true,
      sandbox: true,
      env: {
        REPLY_WEBHOOK_URL: `http://127.0.0.1:${(recorder.address() as AddressInfo).port}/`,
        REPLY_WEBHOOK_SECRET: SECRET,
        REPLY_WEBHOOK_TIMEOUT_MS: '5000',
      },
    });
  }, 60_000);
  afterAll(async () => {
    await stack?.close();
    recorder?.closeAllConnections();
    recorder?.close();
    brain?.child.kill('SIGTERM');
  });

  /** A business on brain version 2, and a customer who writes to it. */
  async function conversation(settings: Record<string, unknown> = {}) {
    const api = stack.api!.url;
    const { businessId } = await connectedIntegration(stack);
    const status = await getStatus(api, businessId);
    const phoneNumberId = status.accounts[0].phoneNumbers[0].phoneNumberId as string;
    const put = await fetch(`${api}/api/integrations/whatsapp/settings`, {
      method: 'PUT',
      headers: { ...(await authHeaders(businessId)), 'content-type': 'application/json' },
      body: JSON.stringify({ responder: 'http', brainVersion: 2, ...settings }),
    });
    expect(put.status).toBe(200);
    const from = `31${String(Date.now() % 1e9).padStart(9, '0')}`;
    const sandbox = stack.sandbox!.state;
    const say = (text: string) =>
      sandbox.sendCustomerMessage({ phoneNumberId, from, name: 'Ann', type: 'text', text }).messageId;
    const replies = () => sandbox.conversation(phoneNumberId, from).filter((m) => m.direction === 'outbound');
    const stateOf = async (wamid: string) => (await stack.db('messages').where({ wamid }).first())?.status;
    return { businessId, phoneNumberId, from, say, replies, stateOf };
  }

  it('keeps the JSON Schemas in docs/brain equal to the contract', () => {
    for (const [path, schema] of Object.entries(brainSchemas()))
      expect(JSON.parse(readFileSync(join(projectRoot, path), 'utf8')), path).toEqual(schema);
  });

  it('sends several messages in order, each once, with the conversation and the window in the request', async () => {
    const c = await conversation();
    const first = c.say('hello');
    await expect.poll(() => c.replies().length, { timeout: 20_000 }).toBe(2);
    expect(c.replies().map((m) => m.text)).toEqual([
      'You said: hello',
      'I remember 0 earlier messages; we can chat for 24 more hours.',
    ]);
    expect(c.replies().every((m) => m.contextMessageId === first)).toBe(true);
    await expect.poll(() => c.stateOf(first), { timeout: 10_000 }).toBe('replied');

    c.say('and again');
    await expect.poll(() => c.replies().length, { timeout: 20_000 }).toBe(4);
    expect(c.replies()[3]!.text).toBe('I remember 3 earlier messages; we can chat for 24 more hours.');

    const request = requests.filter((r) => r.body.customer.phone === c.from).at(-1)!;
    expect(request.signatureOk).toBe(true);
    expect(brainRequestV2.safeParse(request.body).success).toBe(true);
    expect(request.body.history.map((m) => [m.direction, m.text, m.origin])).toEqual([
      ['inbound', 'hello', null],
      ['outbound', 'You said: hello', 'reply'],
      ['outbound', 'I remember 0 earlier messages; we can chat for 24 more hours.', 'reply'],
    ]);
    expect(request.body.messages.map((m) => m.text)).toEqual(['and again']);
    expect(request.body.customer).toMatchObject({ phone: c.from, name: 'Ann' });
    expect(request.body.window.remainingMs).toBeGreaterThan(23 * 3600_000);
    // Two outbound rows of one turn, ordinals 0 and 1, each with its own Meta id.
    const rows = await stack
      .db('messages')
      .where({ direction: 'outbound', customer_wa_id: c.from })
      .orderBy('id')
      .select('ordinal', 'wamid', 'turn_id');
    expect(rows.map((r) => r.ordinal)).toEqual([0, 1, 0, 1]);
    expect(new Set(rows.map((r) => r.wamid)).size).toBe(4);
  });

  it('limits the history to the integration’s setting', async () => {
    const c = await conversation({ brainHistoryMessages: 1 });
    c.say('one');
    await expect.poll(() => c.replies().length, { timeout: 20_000 }).toBe(2);
    c.say('two');
    await expect.poll(() => c.replies().length, { timeout: 20_000 }).toBe(4);
    expect(c.replies()[3]!.text).toBe('I remember 1 earlier messages; we can chat for 24 more hours.');
  });

  it('sends an interactive message, an image by URL and an approved template as Meta expects them', async () => {
    const c = await conversation();
    c.say('show me the menu');
    await expect.poll(() => c.replies().length, { timeout: 20_000 }).toBe(1);
    expect(c.replies()[0]).toMatchObject({ type: 'interactive' });
    expect(c.replies()[0]!.content).toMatchObject({ type: 'button', action: { buttons: expect.any(Array) } });
    c.say('a photo please');
    await expect.poll(() => c.replies().length, { timeout: 20_000 }).toBe(2);
    expect(c.replies()[1]).toMatchObject({ type: 'image', content: { link: 'https://example.com/today.jpg' } });
    // The template comes from the catalogue the connect synced.
    await expect
      .poll(
        async () =>
          (await stack.db('message_templates').where({ name: 'hello_world', status: 'APPROVED' }).first())?.components,
        { timeout: 20_000 },
      )
      .toBeTruthy();
    c.say('my order');
    await expect.poll(() => c.replies().length, { timeout: 20_000 }).toBe(3);
    expect(c.replies()[2]).toMatchObject({ type: 'template', content: { name: 'hello_world' } });
  });

  it('hands the conversation to a person: nothing is sent, and the bot stays quiet after', async () => {
    const c = await conversation();
    const asked = c.say('I want a human');
    await expect.poll(() => c.stateOf(asked), { timeout: 20_000 }).toBe('agent');
    const message = (await stack.db('messages').where({ wamid: asked }).first())!;
    const conv = (await stack.db('conversations').where({ id: message.conversation_id! }).first())!;
    expect(conv.mode).toBe('agent');
    const next = c.say('hello?');
    await expect.poll(() => c.stateOf(next), { timeout: 20_000 }).toBe('agent');
    expect(c.replies()).toHaveLength(0);
  });

  it('answers an invalid answer with the auto-reply, and keeps why on the turn', async () => {
    const c = await conversation();
    const wamid = c.say('this is broken');
    await expect.poll(() => c.replies().length, { timeout: 30_000 }).toBe(1);
    const row = (await stack.db('messages').where({ direction: 'outbound', customer_wa_id: c.from }).first())!;
    expect(row.responder).toBe('rules_fallback');
    const turn = (await stack.db('turns').where({ id: row.turn_id! }).first())!;
    expect(turn.responder_error).toMatch(/invalid version 2 answer at messages\.0/);
    await expect.poll(() => c.stateOf(wamid), { timeout: 10_000 }).toBe('replied');
    // The same answer is refused by the schema the brain can read.
    expect(brainAnswerV2.safeParse({ messages: [{ text: '' }] }).success).toBe(false);
  });

  it('sends nothing when the brain answers no messages', async () => {
    const c = await conversation();
    const wamid = c.say('quiet please');
    await expect.poll(() => c.stateOf(wamid), { timeout: 20_000 }).toBe('no_reply');
    expect(c.replies()).toHaveLength(0);
  });
});
