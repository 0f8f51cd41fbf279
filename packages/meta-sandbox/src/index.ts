// The local Meta sandbox: one HTTP server that speaks Meta's documented Graph API, OAuth dialog and
// WhatsApp Cloud API, and posts signed webhooks the way Meta does. Used by the tests and by
// `npm start` when no real Meta app is configured.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { adminRoutes } from './admin.js';
import { metaPipeline } from './pipeline.js';
import { page } from './request.js';
import { sdkScript } from './sdk.js';
import { SandboxState } from './state.js';
import { DEFAULT_SCHEDULE, type DeliverySchedule } from './webhooks.js';

export { SandboxState } from './state.js';
export type { StatusModeChange } from './state.js';
export type { AccountEventInput, NameDecision, QualityChange } from './events.js';
export type { AccountSummary } from './views.js';
export type { CreateAccountInput, CreatedAccount } from './world.js';
export type { CallFilter, CallRecord, FaultSpec, ActiveFault, Operation } from './faults.js';
export { OPERATIONS } from './faults.js';
export { dataDeletionRequest } from './data-deletion.js';
export { SUBSCRIBABLE_FIELDS, WEBHOOK_OBJECT } from './webhook-fields.js';
export type { CustomerMessageInput, CustomerMessageResult } from './messaging.js';
export type { DeliveryAttempt, DeliveryFilter, DeliverySchedule, WebhookRecord } from './webhooks.js';
export type { ConversationMessage, StatusValue, WhatsAppErrorDetail } from './model.js';

export interface SandboxOptions {
  /** The sandbox Meta app's id. */
  appId: string;
  /** Its secret: checks client_secret, and signs the webhooks it posts. */
  appSecret: string;
  /** e.g. 'v25.0'; routes are served under /{version}/… and accept any vNN.N. */
  graphApiVersion: string;
  /** Where it POSTs webhooks (our POST /api/webhooks/whatsapp); can be set later. */
  webhookUrl?: string;
  /** Its own base URL for paging.next links (default: the origin the request came to). */
  publicUrl?: string;
  /** Delay before it posts status webhooks after a send, and between them (default 200). */
  statusDelayMs?: number;
  /** How long a media download URL works (default 5 minutes, as Meta's). */
  mediaUrlTtlMs?: number;
  /** How long a template created through the Graph API stays PENDING before its review (default 300). */
  templateReviewMs?: number;
  /** The app's name in the dialog and in debug_token (default "Sandbox App"). */
  appName?: string;
  /** Redelivery of webhooks that got no 200 (default 0.2 s, 0.5 s, 1 s, 2 s, 5 s, then every 5 s for 15 minutes). */
  delivery?: Partial<DeliverySchedule>;
  log?: (line: string) => void;
}

export interface RunningSandbox {
  /** e.g. http://127.0.0.1:PORT */
  url: string;
  state: SandboxState;
  setWebhookUrl(url: string): void;
  /** Stops the server, held requests, and any pending webhook deliveries. */
  close(): Promise<void>;
}

export function createSandboxApp(options: SandboxOptions): { app: Koa; state: SandboxState } {
  const log = options.log ?? (() => undefined);
  const state = new SandboxState({
    appId: options.appId,
    appSecret: options.appSecret,
    appName: options.appName ?? 'Sandbox App',
    graphApiVersion: options.graphApiVersion,
    webhookUrl: options.webhookUrl,
    statusDelayMs: options.statusDelayMs ?? 200,
    ...(options.templateReviewMs !== undefined ? { templateReviewMs: options.templateReviewMs } : {}),
    ...(options.mediaUrlTtlMs !== undefined ? { mediaUrlTtlMs: options.mediaUrlTtlMs } : {}),
    schedule: { ...DEFAULT_SCHEDULE, ...options.delivery },
    log,
  });
  const app = new Koa();
  app.silent = true;
  app.on('error', (error: Error) => log(`sandbox error: ${error.message}`));
  app.use(
    metaPipeline(state, { publicUrl: options.publicUrl?.replace(/\/$/, ''), defaultVersion: options.graphApiVersion }),
  );
  app.use(async (ctx, next) => {
    if (ctx.path === '/sdk.js' && ctx.method === 'GET') {
      ctx.type = 'application/javascript; charset=utf-8';
      ctx.set('Cache-Control', 'no-store');
      ctx.body = sdkScript(
        options.publicUrl?.replace(/\/$/, '') ?? `${ctx.protocol}://${ctx.host}`,
        options.graphApiVersion,
      );
      return;
    }
    if (ctx.path === '/' && ctx.method === 'GET') {
      ctx.type = 'text/html; charset=utf-8';
      ctx.body = page(
        'Sandbox Meta',
        `<h1>Sandbox Meta</h1><p>Graph API, OAuth dialog and WhatsApp Cloud API stand-in for app ${options.appId}.</p>
<ul><li><a href="/sandbox/state">State (JSON)</a></li><li><a href="/sandbox/calls">Call log (JSON)</a></li><li><a href="/sandbox/deliveries">Webhook deliveries (JSON)</a></li></ul>`,
      );
      return;
    }
    await next();
  });
  // Scenario pages served by the API (another origin) call /sandbox/* from the browser.
  app.use(async (ctx, next) => {
    if (!ctx.path.startsWith('/sandbox')) return next();
    ctx.set('Access-Control-Allow-Origin', '*');
    ctx.set('Access-Control-Allow-Methods', 'GET, POST, DELETE, OPTIONS');
    ctx.set('Access-Control-Allow-Headers', 'content-type');
    if (ctx.method === 'OPTIONS') {
      ctx.status = 204;
      return;
    }
    await next();
  });
  const admin = adminRoutes(state);
  app.use(admin.routes()).use(admin.allowedMethods());
  return { app, state };
}

export async function startSandbox(
  options: SandboxOptions & { port?: number; host?: string },
): Promise<RunningSandbox> {
  const { app, state } = createSandboxApp(options);
  const host = options.host ?? '127.0.0.1';
  const handler = app.callback();
  // Koa's handler answers its own errors; nothing awaits it.
  const server: Server = createServer((req, res) => void handler(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  options.log?.(`sandbox Meta listening on ${url} (app ${options.appId})`);
  let closing: Promise<void> | undefined;
  return {
    url,
    state,
    setWebhookUrl: (webhookUrl) => state.setWebhookUrl(webhookUrl),
    close: () =>
      (closing ??= (async () => {
        await state.close();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
      })()),
  };
}
