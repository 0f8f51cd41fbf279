// Drives the connect flow the way a browser does: our /connect, the sandbox's OAuth dialog page
// and its form, Meta's redirect to our /callback, and our redirect to the dashboard.
// Plain assertions (no vitest) so the benchmarks drive the same flow.
import { strict as assert } from 'node:assert';
import { newBusinessId } from './factories.js';
import { authHeaders } from './jwt.js';

export interface DialogChoice {
  decision: 'approve' | 'deny';
  /** "new" (default) or an existing sandbox WABA id. */
  account?: string;
}

function decodeHtml(value: string): string {
  return value
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/** Submits the sandbox dialog's form and returns Meta's redirect back to us (the callback URL). */
export async function answerDialog(dialogUrl: string, choice: DialogChoice): Promise<string> {
  const page = await fetch(dialogUrl);
  assert.equal(page.status, 200, 'dialog page');
  const html = await page.text();
  const action = /<form method="post" action="([^"]+)">/.exec(html)?.[1];
  assert.ok(action, 'dialog form');
  const fields = new URLSearchParams();
  for (const [, name, value] of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g))
    fields.set(name!, decodeHtml(value!));
  fields.set('account', choice.account ?? 'new');
  fields.set('decision', choice.decision);
  const answer = await fetch(new URL(decodeHtml(action), dialogUrl), {
    method: 'POST',
    body: fields,
    redirect: 'manual',
  });
  assert.equal(answer.status, 302, 'dialog answer');
  return answer.headers.get('location')!;
}

/** The one browser these helpers play: the connect cookie each state's start hop set, by state. */
const cookieJar = new Map<string, string>();

/** The browser's hop through our one-time URL: keeps the cookie it sets, answers Meta's dialog URL. */
export async function openStartUrl(startUrl: string): Promise<string> {
  const res = await fetch(startUrl, { redirect: 'manual' });
  assert.equal(res.status, 302, 'connect start redirect');
  const dialogUrl = res.headers.get('location')!;
  const state = new URL(dialogUrl).searchParams.get('state');
  const cookie = res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0]!)
    .join('; ');
  if (state && cookie) cookieJar.set(state, cookie);
  return dialogUrl;
}

/** GET /connect as the dashboard's server would, then the browser's hop: answers Meta's dialog URL. */
export async function startConnect(apiUrl: string, businessId: string, jwtSecret?: string): Promise<string> {
  const res = await fetch(`${apiUrl}/api/integrations/whatsapp/connect`, {
    headers: await authHeaders(businessId, jwtSecret),
    redirect: 'manual',
  });
  assert.equal(res.status, 302, 'connect redirect');
  return openStartUrl(res.headers.get('location')!);
}

/**
 * Follows Meta's redirect to our callback with the cookie of the browser that started it (or, with
 * `cookie`, another browser's); returns where we send the browser (the dashboard).
 */
export async function followCallback(callbackUrl: string, options: { cookie?: string } = {}): Promise<URL> {
  const state = new URL(callbackUrl).searchParams.get('state') ?? '';
  const cookie = options.cookie ?? cookieJar.get(state);
  const res = await fetch(callbackUrl, { redirect: 'manual', headers: cookie ? { cookie } : {} });
  assert.equal(res.status, 302, 'callback redirect');
  return new URL(res.headers.get('location')!);
}

export interface ConnectRun {
  dialogUrl: string;
  callbackUrl: string;
  landing: URL;
}

export async function connectThroughMeta(
  apiUrl: string,
  businessId: string,
  choice: DialogChoice = { decision: 'approve' },
  jwtSecret?: string,
): Promise<ConnectRun> {
  const dialogUrl = await startConnect(apiUrl, businessId, jwtSecret);
  const callbackUrl = await answerDialog(dialogUrl, choice);
  const landing = await followCallback(callbackUrl);
  return { dialogUrl, callbackUrl, landing };
}

// Tests read whatever the API answers.
export async function getStatus(apiUrl: string, businessId: string, jwtSecret?: string): Promise<any> {
  const res = await fetch(`${apiUrl}/api/integrations/whatsapp/status`, {
    headers: await authHeaders(businessId, jwtSecret),
  });
  assert.equal(res.status, 200, 'status');
  return res.json();
}

/** A new business connected through Meta's dialog: its ids and its first phone number's. */
export async function connectNewNumber(
  apiUrl: string,
): Promise<{ businessId: string; integrationId: string; phoneNumberId: string }> {
  const businessId = newBusinessId();
  await connectThroughMeta(apiUrl, businessId);
  const status = await getStatus(apiUrl, businessId);
  return {
    businessId,
    integrationId: status.integration.id as string,
    phoneNumberId: status.accounts[0].phoneNumbers[0].phoneNumberId as string,
  };
}
