// npm run bench:sends — the send path under Meta's limits. The sandbox (as Meta) allows one number
// 10 messages per second and enforces the pair rate (one message to one customer every 6 s); the
// number's pace is set to the same 10 per second. 200 template sends go in through the batch
// endpoint, 20 of them to one customer, while another customer writes in. Figures, each beside its
// anchor from the same run:
//   - refusals for speed (130429 throughput, 131056 pair rate): none expected;
//   - the busiest second at Meta, beside the 10 per second it allows;
//   - the batch's makespan, beside the least the two limits allow (the 20 to one customer, 6 s apart);
//   - the writing customer's reply: webhook → send at Meta, beside the same on an idle number;
//   - the same 200 posted again under the same keys: sends added (0 expected).
// The API and worker run as separate processes (test/bench/system.ts); the sandbox runs here.
import { Client, Connection } from '@temporalio/client';
import { messageWorkflowId } from '../../src/temporal/names.js';
import { authHeaders } from '../helpers/jwt.js';
import { connectThroughMeta, getStatus } from '../helpers/meta-flow.js';
import { startSystem } from './system.js';

const TOTAL = 200;
const TO_ONE = 20;
const RATE = 10;
const PAIR_MS = 6_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const say = (line: string) => console.log(line);

const system = await startSystem();
try {
  const state = system.sandbox.state;
  const jwt = system.secrets.AUTH_JWT_SECRET;
  const businessId = 'bench-sends';
  const account = state.createAccount({ numbers: 1 });
  await connectThroughMeta(system.apiUrl, businessId, { decision: 'approve', account: account.wabaId }, jwt);
  const status = await getStatus(system.apiUrl, businessId, jwt);
  const phoneNumberId: string = status.accounts[0].phoneNumbers[0].phoneNumberId;
  const limits = await fetch(`${system.sandbox.url}/sandbox/numbers/${phoneNumberId}/limits`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ messagesPerSecond: RATE, pairRate: true, pairIntervalMs: PAIR_MS, pairBurst: 1 }),
  });
  if (!limits.ok) throw new Error(`sandbox limits: ${limits.status} ${await limits.text()}`);
  // The operator's cap: this number may send what Meta grants it here.
  await system.db('whatsapp_phone_numbers').where({ phone_number_id: phoneNumberId }).update({
    send_rate_limit_mps: RATE,
  });

  // Template sends are checked against the catalogue: wait for the connect's sync to fill it.
  for (const until = Date.now() + 60_000; ;) {
    const t = await system.db('message_templates').where({ waba_id: account.wabaId, name: 'hello_world' }).first();
    if (t?.status === 'APPROVED' && t.components !== null) break;
    if (Date.now() > until) throw new Error('the template catalogue was not synced');
    await sleep(200);
  }

  const sends = () => state.calls({ operation: 'messages.send', objectId: phoneNumberId });
  const applied = () => sends().filter((c) => c.effect === 'applied');
  const firstSendTo = (to: string, after: number) => applied().find((c) => c.to === to && Date.parse(c.at) >= after);

  // The anchor for the reply: webhook → send on the idle number, before any bulk send.
  const replyLatency = async (from: string, text: string, timeoutMs = 60_000) => {
    const posted = Date.now();
    state.sendCustomerMessages([{ phoneNumberId, from, type: 'text', text }]);
    const deadline = posted + timeoutMs;
    for (;;) {
      const sent = firstSendTo(from, posted);
      if (sent) return Date.parse(sent.at) - posted;
      if (Date.now() > deadline) throw new Error(`no reply to ${from} within ${timeoutMs} ms`);
      await sleep(20);
    }
  };
  // Where a reply's time goes: its message row, then its workflow's history, each step's offset.
  const temporal = new Client({ connection: await Connection.connect(system.temporalConnection) });
  const replySteps = async (from: string, writtenAt: number): Promise<string> => {
    const row = await system.db('messages').where({ direction: 'inbound', customer_wa_id: from }).first();
    if (!row) return 'no message row';
    const at = (t: Date | string) => `${Date.parse(String(t instanceof Date ? t.toISOString() : t)) - writtenAt}`;
    const parts = [`stored ${at(row.created_at)}`];
    const history = await temporal.workflow.getHandle(messageWorkflowId(Number(row.id))).fetchHistory();
    for (const event of history.events ?? []) {
      const seconds = Number(event.eventTime?.seconds ?? 0);
      const ms = seconds * 1000 + Math.round((event.eventTime?.nanos ?? 0) / 1e6);
      // The event's kind is the one attributes field it carries (workflowTaskStartedEventAttributes, …).
      const key = Object.keys(event).find(
        (k) => k.endsWith('EventAttributes') && (event as Record<string, unknown>)[k],
      );
      const type = key?.replace('EventAttributes', '') ?? 'event';
      parts.push(`${type} ${ms - writtenAt}`);
    }
    return parts.join(', ');
  };
  const idle: number[] = [];
  for (let i = 0; i < 3; i++) idle.push(await replyLatency(`4930${String(i).padStart(6, '0')}`, `idle ${i}`));

  const one = '4917000000001';
  const items = Array.from({ length: TOTAL }, (_, i) => ({
    idempotencyKey: `bench-send-${i}`,
    to: i < TO_ONE ? one : `4917${String(100000 + i).padStart(9, '0')}`,
    template: {
      name: 'hello_world',
      language: 'en_US',
      components: [{ type: 'body', parameters: [{ type: 'text', text: `customer ${i}` }] }],
    },
  }));
  const post = async () => {
    const res = await fetch(`${system.apiUrl}/api/integrations/whatsapp/messages/batch`, {
      method: 'POST',
      headers: { ...(await authHeaders(businessId, jwt)), 'content-type': 'application/json' },
      body: JSON.stringify({ messages: items }),
    });
    if (res.status !== 202) throw new Error(`batch: ${res.status} ${await res.text()}`);
  };
  const before = applied().length;
  const started = Date.now();
  await post();
  // A customer writes in while the batch goes out.
  await sleep(2_000);
  const writer = '4931000000001';
  const writtenAt = Date.now();
  const busy = await replyLatency(writer, 'where is my order?');
  const deadline = started + Number(process.env.SENDS_DEADLINE_MS ?? 300_000);
  while (applied().length - before < TOTAL + 1) {
    if (Date.now() > deadline) {
      const states = await system
        .db('messages')
        .where({ direction: 'outbound', origin: 'template' })
        .select('status', system.db.raw(`error::text as code`))
        .count('* as n')
        .groupBy('status', 'code');
      const codes = sends().reduce<Record<string, number>>((m, c) => {
        const k = String(c.errorCode ?? c.status);
        m[k] = (m[k] ?? 0) + 1;
        return m;
      }, {});
      throw new Error(
        `only ${applied().length - before} of ${TOTAL + 1} sends went out; rows ${JSON.stringify(states)}; Meta answered ${JSON.stringify(codes)}`,
      );
    }
    await sleep(200);
  }
  const makespan = Date.now() - started;
  const steps = await replySteps(writer, writtenAt);
  const window = applied().filter((c) => Date.parse(c.at) >= started);
  const times = window.map((c) => Date.parse(c.at)).sort((a, b) => a - b);
  let busiest = 0;
  for (let i = 0, j = 0; j < times.length; j++) {
    while (times[j]! - times[i]! >= 1_000) i++;
    busiest = Math.max(busiest, j - i + 1);
  }
  const refusals = sends().filter((c) => c.errorCode === 130429 || c.errorCode === 131056).length;

  // The same 200 again, under the same keys: nothing more is sent.
  const sentBefore = applied().length;
  await post();
  await sleep(10_000);
  const resent = applied().length - sentBefore;

  const least = (TO_ONE - 1) * PAIR_MS;
  say(
    `send path: ${TOTAL} template sends by batch (${TO_ONE} to one customer), Meta's limits ${RATE}/s and the pair rate`,
  );
  say(`  refusals for speed (130429, 131056): ${refusals}`);
  say(`  busiest second at Meta: ${busiest} sends, beside ${RATE} allowed (${(busiest / RATE).toFixed(2)}×)`);
  say(
    `  makespan: ${(makespan / 1000).toFixed(1)} s, beside the least the limits allow ${(least / 1000).toFixed(1)} s (${(makespan / least).toFixed(2)}×)`,
  );
  say(
    `  a customer's reply during the batch: ${busy} ms, beside ${Math.max(...idle)} ms on the idle number (${(busy / Math.max(...idle)).toFixed(2)}×)`,
  );
  say(`  the same ${TOTAL} posted again under their keys: ${resent} more sends`);
  say(`  where the reply's time went (ms after the customer wrote): ${steps}`);
} finally {
  await system.stop();
}
