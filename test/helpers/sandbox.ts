// Test helpers for the Meta sandbox: start one on a free port, receive its webhooks on a local
// HTTP server, and drive the OAuth dialog without a browser.
import { randomBytes, randomInt } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startSandbox, type RunningSandbox, type SandboxOptions } from '@waconnect/meta-sandbox';

export const GRAPH_VERSION = 'v25.0';

export interface TestSandbox extends RunningSandbox {
  appId: string;
  appSecret: string;
  graph(path: string): string;
}

export async function startTestSandbox(overrides: Partial<SandboxOptions> = {}): Promise<TestSandbox> {
  const appId = String(randomInt(100_000_000, 999_999_999)) + String(randomInt(100_000, 999_999));
  const appSecret = randomBytes(16).toString('hex');
  const sandbox = await startSandbox({
    appId,
    appSecret,
    graphApiVersion: GRAPH_VERSION,
    statusDelayMs: 40,
    port: 0,
    ...overrides,
  });
  return {
    ...sandbox,
    appId,
    appSecret,
    graph: (path: string) => `${sandbox.url}/${GRAPH_VERSION}/${path.replace(/^\//, '')}`,
  };
}

export interface ReceivedWebhook {
  headers: IncomingHttpHeaders;
  raw: Buffer;
  body: unknown;
  answeredWith: number;
}

export interface WebhookReceiver {
  url: string;
  /** The verify token GET verification requests must carry (hub.verify_token). */
  verifyToken: string;
  received: ReceivedWebhook[];
  /** Decides the HTTP status for the nth request (1-based); default 200. */
  respond: (n: number, body: unknown) => number;
  close(): Promise<void>;
}

export async function startWebhookReceiver(
  respond: (n: number, body: unknown) => number = () => 200,
): Promise<WebhookReceiver> {
  const receiver: WebhookReceiver = {
    url: '',
    verifyToken: randomBytes(8).toString('hex'),
    received: [],
    respond,
    close: async () => undefined,
  };
  const server = createServer((req, res) => {
    if (req.method === 'GET') {
      // Meta's verification request: echo hub.challenge when hub.verify_token matches.
      const query = new URL(req.url ?? '/', 'http://receiver').searchParams;
      const ok = query.get('hub.mode') === 'subscribe' && query.get('hub.verify_token') === receiver.verifyToken;
      res.statusCode = ok ? 200 : 403;
      res.end(ok ? (query.get('hub.challenge') ?? '') : 'forbidden');
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      let body: unknown = null;
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        body = raw.toString('utf8');
      }
      const status = receiver.respond(receiver.received.length + 1, body);
      receiver.received.push({ headers: req.headers, raw, body, answeredWith: status });
      res.statusCode = status;
      res.end(status === 200 ? 'EVENT_RECEIVED' : 'nope');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/webhooks/whatsapp`;
  receiver.close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return receiver;
}

export async function waitFor<T>(
  probe: () => T | undefined | false,
  timeoutMs = 5_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export interface DialogParams {
  redirectUri?: string;
  state?: string;
  scope?: string;
  configId?: string;
  display?: 'popup';
  extras?: Record<string, unknown>;
  clientId?: string;
  /** The opener's origin, as the JS SDK stand-in passes it. */
  origin?: string;
}

export function dialogUrl(sandbox: TestSandbox, params: DialogParams): string {
  const query = new URLSearchParams({ client_id: params.clientId ?? sandbox.appId, response_type: 'code' });
  if (params.redirectUri) query.set('redirect_uri', params.redirectUri);
  if (params.state) query.set('state', params.state);
  if (params.scope) query.set('scope', params.scope);
  if (params.configId) query.set('config_id', params.configId);
  if (params.display) query.set('display', params.display);
  if (params.extras) query.set('extras', JSON.stringify(params.extras));
  if (params.origin) query.set('origin', params.origin);
  return `${sandbox.graph('dialog/oauth')}?${query}`;
}

/** What a browser does: load the dialog, submit its form with the chosen button and account. */
export async function submitDialog(
  sandbox: TestSandbox,
  params: DialogParams,
  choice: { decision: 'approve' | 'deny'; account?: string },
): Promise<Response> {
  const pageRes = await fetch(dialogUrl(sandbox, params));
  if (pageRes.status !== 200) throw new Error(`dialog page answered ${pageRes.status}`);
  const html = await pageRes.text();
  const form = new URLSearchParams();
  for (const match of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g))
    form.set(match[1]!, unescapeHtml(match[2]!));
  form.set('decision', choice.decision);
  form.set('account', choice.account ?? 'new');
  return fetch(sandbox.graph('dialog/oauth'), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form,
    redirect: 'manual',
  });
}

/** The popup's result page carries the session info event and SDK response as JSON. */
export function popupResult(html: string): {
  sessionInfo: Record<string, unknown>;
  response: Record<string, unknown>;
  targetOrigin: string;
} {
  const match = /<script type="application\/json" id="sandbox-fb-result">([\s\S]*?)<\/script>/.exec(html);
  if (!match) throw new Error('no popup result in page');
  return JSON.parse(match[1]!) as {
    sessionInfo: Record<string, unknown>;
    response: Record<string, unknown>;
    targetOrigin: string;
  };
}

function unescapeHtml(text: string): string {
  return text.replace(
    /&(amp|lt|gt|quot|#39);/g,
    (_, name: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" })[name]!,
  );
}
