// npm run bench:webhooks [rate] [seconds] — autocannon posts signed webhooks, each carrying one
// unique customer message, at a fixed rate against the API (separate process), with a real worker
// and Temporal dev server and the sandbox as Meta (which also posts sent/delivered/read statuses
// back, as Meta does). Reports acknowledgement latency, then waits for the drain and reports
// webhook→reply latency, replies per second, lost and duplicated replies.
import autocannon from 'autocannon';
import { signBody } from '../../src/meta/signature.js';
import { connectThroughMeta, getStatus } from '../helpers/meta-flow.js';
import { median, percentile, startSystem } from './system.js';

const rate = Number(process.argv[2] ?? 100);
const seconds = Number(process.argv[3] ?? 60);
const businesses = 3;
const customersPerNumber = 400;
const drainLimitMs = Number(process.env.DRAIN_LIMIT_MS ?? 15 * 60_000);

const system = await startSystem();
try {
  const numbers: string[] = [];
  for (let i = 0; i < businesses; i++) {
    const businessId = `bench-webhooks-${i}`;
    await connectThroughMeta(system.apiUrl, businessId, { decision: 'approve' }, system.secrets.AUTH_JWT_SECRET);
    const status = await getStatus(system.apiUrl, businessId, system.secrets.AUTH_JWT_SECRET);
    for (const account of status.accounts) for (const n of account.phoneNumbers) numbers.push(n.phoneNumberId);
  }
  const state = system.sandbox.state;
  // Meta reports sent, delivered and read for each reply; BENCH_STATUSES=sent keeps only the first.
  const stopAt = process.env.BENCH_STATUSES === 'sent' ? 'sent' : 'read';
  for (const n of numbers) state.setStatusMode(n, { stopAt });
  const postedAt = new Map<string, number>();
  let sequence = 0;

  console.log(`load: ${rate} webhooks/s for ${seconds} s, one message each, ${numbers.length} numbers × ${customersPerNumber} customers; statuses up to ${stopAt}`);
  const loadStarted = Date.now();
  const result = await autocannon({
    url: `${system.apiUrl}/api/webhooks/whatsapp`,
    connections: 32,
    overallRate: rate,
    duration: seconds,
    requests: [
      {
        method: 'POST',
        setupRequest: (request) => {
          const n = sequence++;
          const phoneNumberId = numbers[n % numbers.length]!;
          const from = `4915${String(100000 + ((n * 7919) % customersPerNumber)).padStart(6, '0')}`;
          const { payload, messageIds } = state.composeCustomerMessages([{ phoneNumberId, from, type: 'text', text: `bench message ${n}` }]);
          const body = JSON.stringify(payload);
          postedAt.set(messageIds[0]!, Date.now());
          return {
            ...request,
            body,
            headers: { 'content-type': 'application/json', 'x-hub-signature-256': signBody(body, system.secrets.META_APP_SECRET) },
          };
        },
      },
    ],
  });
  const loadEnded = Date.now();
  const accepted = result['2xx'];
  console.log(`acknowledgements: ${accepted} × 2xx, ${result.non2xx} × non-2xx, ${result.errors} errors, ${result.timeouts} timeouts`);
  console.log(`  accepted ${(accepted / seconds).toFixed(1)} messages/s; ack latency p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms, max ${result.latency.max} ms`);

  // Drain: every accepted message should get exactly one reply.
  const sends = () => state.calls({ operation: 'messages.send' }).filter((c) => c.effect === 'applied' && c.messageContextId && postedAt.has(c.messageContextId));
  let lastProgress = Date.now();
  let lastCount = 0;
  for (;;) {
    const count = new Set(sends().map((c) => c.messageContextId)).size;
    if (count >= postedAt.size) break;
    if (count > lastCount) {
      lastCount = count;
      lastProgress = Date.now();
    }
    if (Date.now() - lastProgress > 120_000 || Date.now() - loadEnded > drainLimitMs) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  const replies = sends();
  const perMessage = new Map<string, number>();
  for (const call of replies) perMessage.set(call.messageContextId!, (perMessage.get(call.messageContextId!) ?? 0) + 1);
  const latencies = replies.map((c) => Date.parse(c.at) - postedAt.get(c.messageContextId!)!);
  const lastReply = Math.max(...replies.map((c) => Date.parse(c.at)));
  const lost = [...postedAt.keys()].filter((id) => !perMessage.has(id)).length;
  const duplicated = [...perMessage.values()].filter((n) => n > 1).length;
  console.log(`drain: ${perMessage.size} of ${postedAt.size} messages answered`);
  console.log(`  webhook→reply p50 ${(median(latencies) / 1000).toFixed(1)} s, p99 ${(percentile(latencies, 99) / 1000).toFixed(1)} s`);
  console.log(`  replies/s over the whole run ${(perMessage.size / ((lastReply - loadStarted) / 1000)).toFixed(1)}; last reply ${((lastReply - loadEnded) / 1000).toFixed(1)} s after the load ended`);
  console.log(`  lost ${lost}, duplicated ${duplicated}`);
  process.exitCode = lost > 0 || duplicated > 0 ? 1 : 0;
} finally {
  await system.stop();
}
