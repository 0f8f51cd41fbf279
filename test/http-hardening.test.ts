// The HTTP server's own defences: unsigned webhooks refused before their body is read, slow
// requests cut off, request ids only when well formed, and /metrics never open on the public port.
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi } from '../src/commands/api.js';
import { startStack, type Stack } from './helpers/stack.js';

const METRICS_TOKEN = 'metrics-token-0123456789-0123456789';

/** Writes raw bytes to the server and resolves with what it answered (or '' when it just closed). */
function rawRequest(
  url: string,
  head: string,
  options: { waitMs?: number } = {},
): Promise<{ answer: string; ms: number }> {
  const { hostname, port } = new URL(url);
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk.toString('utf8')));
    socket.on('close', () => resolve({ answer, ms: Date.now() - started }));
    socket.on('error', reject);
    socket.write(head);
    setTimeout(() => socket.destroy(), options.waitMs ?? 10_000);
  });
}

describe('HTTP hardening', () => {
  let stack: Stack;
  let api: string;
  beforeAll(async () => {
    stack = await startStack({
      api: true,
      worker: false,
      env: { METRICS_PORT: '0', METRICS_AUTH_TOKEN: METRICS_TOKEN },
    });
    api = stack.api!.url;
  });
  afterAll(() => stack?.close());

  it('refuses a webhook without a well-formed signature before reading its body', async () => {
    for (const signature of [undefined, 'sha256=abc', `sha1=${'a'.repeat(40)}`, `sha256=${'g'.repeat(64)}`]) {
      // Announces a megabyte and sends none of it: only an answer that never waits for the body arrives.
      const head =
        'POST /api/webhooks/whatsapp HTTP/1.1\r\nHost: x\r\n' +
        'Content-Type: application/json\r\nContent-Length: 1048576\r\n' +
        (signature ? `X-Hub-Signature-256: ${signature}\r\n` : '') +
        '\r\n';
      const { answer, ms } = await rawRequest(api, head, { waitMs: 5_000 });
      expect(answer, String(signature)).toMatch(/^HTTP\/1\.1 401/);
      expect(answer).toContain('"code":"invalid_signature"');
      expect(ms).toBeLessThan(4_000);
    }
  });

  it('keeps a well-formed request id and replaces any other', async () => {
    const idOf = async (requestId: string) =>
      (await fetch(`${api}/healthz`, { headers: { 'x-request-id': requestId } })).headers.get('x-request-id');
    expect(await idOf('req-1.abc_DEF')).toBe('req-1.abc_DEF');
    for (const hostile of ['a b', 'x'.repeat(129), '<script>', 'id\u00e9', '{"json":1}']) {
      const id = await idOf(hostile);
      expect(id).not.toBe(hostile);
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it('serves /metrics on its internal port, and on the public port only with the metrics token', async () => {
    expect(stack.api!.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const internal = await fetch(`${stack.api!.metricsUrl}/metrics`);
    expect(internal.status).toBe(200);
    expect(await internal.text()).toContain('waconnect_http_requests_total');
    expect((await fetch(`${stack.api!.metricsUrl}/api/integrations/whatsapp/status`)).status).toBe(404);
    expect((await fetch(`${api}/metrics`)).status).toBe(401);
    expect((await fetch(`${api}/metrics`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await fetch(`${api}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).status).toBe(200);
  });

  it('has no /metrics on the public port without a metrics token', async () => {
    const plain = await startStack({ api: true, worker: false });
    try {
      expect((await fetch(`${plain.api!.url}/metrics`)).status).toBe(404);
      expect(plain.api!.metricsUrl).toBeUndefined();
    } finally {
      await plain.close();
    }
  });

  it('gives a client 30 s to send its request (10 s for its headers), then answers 408', async () => {
    expect(stack.api!.server.requestTimeout).toBe(30_000);
    expect(stack.api!.server.headersTimeout).toBe(10_000);
    const quick = await startApi({ ...stack.config, port: 0 }, stack.log, {
      db: stack.db,
      host: '127.0.0.1',
      requestTimeoutMs: 1_000,
    });
    try {
      // Headers that never end (slowloris).
      const { answer, ms } = await rawRequest(quick.url, 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: 1', {
        waitMs: 8_000,
      });
      expect(answer).toMatch(/^HTTP\/1\.1 408/);
      expect(ms).toBeLessThan(4_000);
    } finally {
      await quick.close();
    }
  });
});
