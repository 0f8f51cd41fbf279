/// <reference lib="dom" />
// The connect flow in a real browser across sites: a dashboard page on one site (127.0.0.1) and the
// API on another (localhost). JSON mode, the one-time hop, Meta's dialog (the sandbox), our callback.
// The same callback URL opened in a fresh browser context ends in session_mismatch, and Meta's token
// endpoint is never called for it.
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokenFor } from './helpers/jwt.js';
import { newBusinessId } from './helpers/factories.js';
import { getStatus } from './helpers/meta-flow.js';
import { freePort } from './helpers/ports.js';
import { startStack, type Stack } from './helpers/stack.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** A business's dashboard: fetches /connect in JSON mode with its bearer token, then navigates. */
function dashboardPage(apiUrl: string, token: string): string {
  return `<!doctype html><title>Dashboard</title><button id="connect">Connect WhatsApp</button><p id="result"></p>
<script>
  document.getElementById('result').textContent = location.search;
  document.getElementById('connect').onclick = async () => {
    const res = await fetch(${JSON.stringify(`${apiUrl}/api/integrations/whatsapp/connect`)}, {
      headers: { Authorization: 'Bearer ${token}', Accept: 'application/json' } });
    location.href = (await res.json()).url;
  };
</script>`;
}

describe('connect across sites in a browser', () => {
  let stack: Stack;
  let browser: Browser;
  let dashboard: Server;
  let dashboardUrl: string;
  const pages = new Map<string, string>();

  beforeAll(async () => {
    if (!existsSync(CHROMIUM))
      throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install -y chromium (.ci/run does)`);
    const port = await freePort();
    dashboardUrl = `http://127.0.0.1:${port}`;
    dashboard = createServer((req, res) => {
      const business = new URL(req.url ?? '/', dashboardUrl).searchParams.get('business') ?? '';
      res.setHeader('content-type', 'text/html; charset=utf-8');
      res.end(
        pages.get(business) ??
          '<!doctype html><p id="result"></p><script>result.textContent = location.search</script>',
      );
    });
    await new Promise<void>((resolve) => dashboard.listen(port, '127.0.0.1', resolve));
    stack = await startStack({
      api: true,
      sandbox: true,
      publicHost: 'localhost',
      env: { FRONTEND_URL: dashboardUrl },
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-sync',
      ],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
    await new Promise((resolve) => dashboard?.close(resolve));
  });

  it('completes a JSON-mode connect; the same callback in a fresh browser ends in session_mismatch', async () => {
    expect(stack.api!.url).toMatch(/^http:\/\/127\.0\.0\.1:/);
    const apiUrl = stack.config.publicUrl;
    expect(new URL(apiUrl).hostname).toBe('localhost');
    const businessId = newBusinessId('browser');
    pages.set(businessId, dashboardPage(apiUrl, await tokenFor(businessId)));

    const context = await browser.newContext();
    const page = await context.newPage();
    let callbackUrl = '';
    page.on('request', (request) => {
      if (request.url().startsWith(`${apiUrl}/api/integrations/whatsapp/callback`)) callbackUrl = request.url();
    });
    await page.goto(`${dashboardUrl}/?business=${businessId}`);
    await page.getByRole('button', { name: 'Connect WhatsApp' }).click();
    await page.waitForURL(/\/dialog\/oauth/);
    const cookies = await context.cookies(apiUrl);
    expect(cookies).toHaveLength(1);
    expect(cookies[0]).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Lax', path: '/' });
    expect(cookies[0]!.name).toMatch(/^__Host-wa_connect_/);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForURL(/dashboard\/integrations/, { timeout: 20_000 });
    // Meta (and its sandbox) append #_=_ to the redirect.
    expect(page.url().replace(/#_=_$/, '')).toBe(
      `${dashboardUrl}/dashboard/integrations?success=true&channel=whatsapp`,
    );
    expect((await getStatus(stack.api!.url, businessId)).connected).toBe(true);
    expect(callbackUrl).toContain('state=');
    await context.close();

    const since = stack.sandbox!.state.calls().at(-1)?.seq ?? 0;
    const fresh = await browser.newContext();
    const other = await fresh.newPage();
    await other.goto(callbackUrl);
    await other.waitForURL(/dashboard\/integrations/);
    expect(other.url()).toBe(`${dashboardUrl}/dashboard/integrations?error=session_mismatch`);
    expect(stack.sandbox!.state.calls({ since, operation: 'oauth.code_exchange' })).toHaveLength(0);
    // Nothing but the catalogue's sync of the connect above.
    expect(stack.sandbox!.state.calls({ since }).filter((c) => !c.operation.startsWith('templates.'))).toHaveLength(0);
    await fresh.close();
  });
});
