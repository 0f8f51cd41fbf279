// Abuse that must not exhaust the API: a thousand slow uploads, concurrent 4 MB bodies (unsigned, and
// with signatures that do not verify), and a flood of callbacks with bogus states, all at once
// against the API as a process of its own. Its resident memory stays under a stated ceiling and
// /healthz keeps answering quickly. The figures measured are in RELIABILITY.md.
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from './helpers/ports.js';
import { spawnService, type ChildService } from './helpers/processes.js';
import { startStack, testEnv, type Stack } from './helpers/stack.js';
import { postWebhook } from './helpers/webhooks.js';

/** The API process's resident set, sampled through the abuse, stays below this (measured: ~255 MB). */
const RSS_CEILING_MB = 320;
/**
 * The 99th percentile of /healthz latency during the abuse stays below this. Measured 170-1,500 ms
 * on a shared two-core machine: the spikes are the moments a thousand connections arrive at once.
 */
const HEALTHZ_P99_MS = 2_500;
const REQUEST_TIMEOUT_S = 5;

const SLOW_UPLOADS = 1_000;
const BIG_BODIES = 200;
const BIG_SIGNED_BODIES = 100;
const CALLBACKS = 3_000;
const FOUR_MB = 4 * 1024 * 1024;
const BODY = Buffer.alloc(FOUR_MB, 'a');
const BOGUS_SIGNATURE = `sha256=${'0'.repeat(64)}`;

function rssMb(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : 0;
}

/** Sends `head`, then the body (all at once, or a byte at a time), and resolves with the answer. */
function rawRequest(
  port: number,
  head: string,
  body: { bytes: Buffer } | { trickleMs: number },
  giveUpMs: number,
): Promise<{ answer: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    let trickle: NodeJS.Timeout | undefined;
    const giveUp = setTimeout(() => socket.destroy(), giveUpMs);
    socket.on('data', (chunk) => {
      answer = (answer + chunk.toString('latin1')).slice(0, 4_000);
      // A whole answer came (a keep-alive one too): done, as a client would be.
      const end = answer.indexOf('\r\n\r\n');
      const length = Number(/\r\ncontent-length: (\d+)/i.exec(answer)?.[1] ?? NaN);
      if (end >= 0 && answer.length - end - 4 >= length) socket.destroy();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(giveUp);
      clearInterval(trickle);
      resolve({ answer, ms: Date.now() - started });
    });
    socket.write(head);
    if ('bytes' in body) socket.write(body.bytes);
    else trickle = setInterval(() => socket.writable && socket.write('a'), body.trickleMs);
  });
}

/** Runs `count` tasks, at most `concurrency` at a time. */
async function pool<T>(count: number, concurrency: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        results[i] = await task(i);
      }
    }),
  );
  return results;
}

const webhookHead = (signature?: string) =>
  'POST /api/webhooks/whatsapp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n' +
  `Content-Length: ${FOUR_MB}\r\n` +
  (signature ? `X-Hub-Signature-256: ${signature}\r\n` : '') +
  '\r\n';

const statusOf = (answer: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0);

describe('abuse', () => {
  let api: ChildService;
  let port: number;
  let base: string;
  let metricsUrl: string;
  /** A sample's value on the API's internal metrics port (0 when absent). */
  const metric = async (sample: string) => {
    const text = await fetch(`${metricsUrl}/metrics`).then((r) => r.text());
    const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
    return line ? Number(line.slice(sample.length + 1)) : 0;
  };
  beforeAll(async () => {
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const metricsPort = await freePort();
    metricsUrl = `http://127.0.0.1:${metricsPort}`;
    api = spawnService(
      'api',
      testEnv({
        PORT: String(port),
        PUBLIC_URL: base,
        METRICS_PORT: String(metricsPort),
        LOG_LEVEL: 'warn',
        HTTP_REQUEST_TIMEOUT: `${REQUEST_TIMEOUT_S}s`,
        HTTP_HEADERS_TIMEOUT: `${REQUEST_TIMEOUT_S}s`,
      }),
    );
    const deadline = Date.now() + 30_000;
    while (
      (await fetch(`${base}/healthz`).then(
        (r) => r.status,
        () => 0,
      )) !== 200
    ) {
      if (Date.now() > deadline) throw new Error(`the API did not start:\n${api.output()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  });
  afterAll(() => api?.kill('SIGTERM'));

  it(`stays under ${RSS_CEILING_MB} MB and answers /healthz within ${HEALTHZ_P99_MS} ms (p99) through it all`, async () => {
    const pid = api.child.pid!;
    const baselineMb = rssMb(pid);
    let peakMb = baselineMb;
    const sampler = setInterval(() => (peakMb = Math.max(peakMb, rssMb(pid))), 50);
    let abusing = true;
    const latencies: number[] = [];
    const healthErrors: string[] = [];
    const probe = (async () => {
      while (abusing) {
        const started = performance.now();
        const status = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(10_000) }).then(
          (r) => r.status,
          (e: Error) => e.name,
        );
        latencies.push(performance.now() - started);
        if (status !== 200) healthErrors.push(String(status));
        await new Promise((r) => setTimeout(r, 10));
      }
    })();

    const started = Date.now();
    const [slow, unsigned, badlySigned, callbacks] = await Promise.all([
      // Headers, then a byte every half second: the request timeout ends each one.
      Promise.all(
        Array.from({ length: SLOW_UPLOADS }, () =>
          rawRequest(port, webhookHead(BOGUS_SIGNATURE), { trickleMs: 500 }, (REQUEST_TIMEOUT_S + 40) * 1000),
        ),
      ),
      pool(BIG_BODIES, 50, () => rawRequest(port, webhookHead(), { bytes: BODY }, 30_000)),
      pool(BIG_SIGNED_BODIES, 50, () => rawRequest(port, webhookHead(BOGUS_SIGNATURE), { bytes: BODY }, 30_000)),
      pool(CALLBACKS, 200, (i) =>
        fetch(`${base}/api/integrations/whatsapp/callback?state=bogus-${i}&code=x`, { redirect: 'manual' }).then(
          (r) => ({ status: r.status, location: r.headers.get('location') ?? '' }),
          () => ({ status: 0, location: '' }),
        ),
      ),
    ]);
    const abuseSeconds = (Date.now() - started) / 1000;
    abusing = false;
    await probe;
    clearInterval(sampler);

    const sorted = [...latencies].sort((a, b) => a - b);
    const p99 = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] ?? Infinity;
    const count = (answers: Array<{ answer: string }>, status: number) =>
      answers.filter((a) => statusOf(a.answer) === status).length;
    const report = {
      baselineMb: Math.round(baselineMb),
      peakMb: Math.round(peakMb),
      healthz: {
        probes: latencies.length,
        p50: Math.round(sorted[Math.floor(sorted.length / 2)] ?? 0),
        p99: Math.round(p99),
        max: Math.round(sorted.at(-1) ?? 0),
      },
      slow: {
        timedOut408: count(slow, 408),
        cutOff: count(slow, 0),
        slowestCloseMs: Math.max(...slow.map((s) => s.ms)),
      },
      unsigned: { status401: count(unsigned, 401), cutOff: count(unsigned, 0) },
      badlySigned: {
        status401: count(badlySigned, 401),
        status503: count(badlySigned, 503),
        status408: count(badlySigned, 408),
        cutOff: count(badlySigned, 0),
      },
      callbacksInvalidState: callbacks.filter((c) => c.status === 302 && c.location.includes('invalid_state')).length,
      abuseSeconds,
    };
    process.stdout.write(`abuse: ${JSON.stringify(report)}\n`);

    expect(peakMb).toBeLessThan(RSS_CEILING_MB);
    expect(healthErrors).toEqual([]);
    expect(p99).toBeLessThan(HEALTHZ_P99_MS);
    // Every slow upload was ended by the server within its request timeout (and the second its check
    // runs on), not by us giving up: with a 408, or, for a few of a thousand arriving at once on two
    // busy cores, closed without one (a CI run saw 955 answered 408 and the rest closed).
    expect(report.slow.slowestCloseMs).toBeLessThan((REQUEST_TIMEOUT_S + 5) * 1000);
    expect(report.slow.timedOut408 + report.slow.cutOff).toBe(SLOW_UPLOADS);
    expect(report.slow.timedOut408).toBeGreaterThanOrEqual(SLOW_UPLOADS * 0.9);
    // What the clients saw: unsigned bodies refused (401) before their body was read; bodies with a
    // signature that does not verify read and refused (401), refused for the budget (503), or too slow
    // on a busy machine (408). Never a 500. A refusal goes out while the client is still sending, and
    // the socket's close may reset the connection before the client reads it (0, no answer): so the
    // server's own counts below are the measure.
    const seen = { unsigned: report.unsigned, signed: report.badlySigned };
    expect(seen.unsigned.status401 + seen.unsigned.cutOff).toBe(BIG_BODIES);
    expect(seen.signed.status401 + seen.signed.status503 + seen.signed.status408 + seen.signed.cutOff).toBe(
      BIG_SIGNED_BODIES,
    );
    const rejected = (reason: string) => metric(`waconnect_webhooks_total{outcome="rejected",reason="${reason}"}`);
    const [signature, overloaded, body] = [
      await rejected('signature'),
      await rejected('overloaded'),
      await rejected('body'),
    ];
    expect(signature).toBeGreaterThanOrEqual(BIG_BODIES);
    expect(signature + overloaded + body).toBe(BIG_BODIES + BIG_SIGNED_BODIES + SLOW_UPLOADS);
    expect(await metric('waconnect_webhook_bytes_in_flight')).toBe(0);
    expect(report.callbacksInvalidState).toBe(CALLBACKS);
    // And it is still itself afterwards.
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  }, 90_000);
});

describe('the webhook byte budget', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      api: true,
      worker: false,
      env: { WEBHOOK_MAX_BYTES_IN_FLIGHT: String(FOUR_MB), METRICS_PORT: '0' },
    });
  });
  afterAll(() => stack?.close());

  const inFlight = async () => {
    const text = await fetch(`${stack.api!.metricsUrl}/metrics`).then((r) => r.text());
    return Number(/^waconnect_webhook_bytes_in_flight (\d+)/m.exec(text)?.[1] ?? NaN);
  };

  it('answers 503 with Retry-After, before reading, a body that does not fit beside the ones being read', async () => {
    const port = Number(new URL(stack.api!.url).port);
    // Three of the budget's four MiB arrive, and the rest never does.
    const holder = connect(port, '127.0.0.1');
    holder.on('error', () => undefined);
    holder.write(webhookHead(BOGUS_SIGNATURE));
    holder.write(BODY.subarray(0, 3 * 1024 * 1024));
    try {
      await expect.poll(inFlight, { timeout: 20_000 }).toBe(3 * 1024 * 1024);
      const head =
        'POST /api/webhooks/whatsapp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n' +
        `Content-Length: ${2 * 1024 * 1024}\r\nX-Hub-Signature-256: ${BOGUS_SIGNATURE}\r\n\r\n`;
      // Its body is never sent: only an answer that does not wait for it can arrive.
      const { answer, ms } = await rawRequest(port, head, { trickleMs: 60_000 }, 10_000);
      expect(answer).toMatch(/^HTTP\/1\.1 503/);
      expect(answer).toMatch(/\r\nRetry-After: \d+\r\n/i);
      expect(answer).toMatch(/\r\nConnection: close\r\n/i);
      expect(answer).toContain('"code":"overloaded"');
      expect(ms).toBeLessThan(5_000);
    } finally {
      holder.destroy();
    }
    // The held bytes come back when the request ends, and a delivery goes through again.
    await expect.poll(inFlight, { timeout: 20_000 }).toBe(0);
    const delivered = await postWebhook(stack.api!.url, { object: 'whatsapp_business_account', entry: [] });
    expect(delivered.status).toBe(200);
  });
});
