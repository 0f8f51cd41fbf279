/// <reference lib="dom" />
// The sandbox dashboard in a real browser (Debian's Chromium driven by playwright-core): connect and
// approve, deny, write as a customer and see the reply, disconnect. Screenshots of each step go to
// test-results/dashboard/ (ignored by git).
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../src/paths.js';
import { startStack, type Stack } from './helpers/stack.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const shots = join(projectRoot, 'test-results', 'dashboard');

describe('sandbox dashboard in a browser', () => {
  let stack: Stack;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM))
      throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install -y chromium (.ci/run does)`);
    mkdirSync(shots, { recursive: true });
    stack = await startStack({
      api: true,
      sandbox: true,
      dashboardOnApi: true,
      env: { TEMPORAL_UI_URL: 'http://127.0.0.1:8233' },
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  const shot = (name: string) => page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });

  async function useBusiness(id: string) {
    await page.goto(`${stack.api!.url}/`);
    await page.getByLabel('Business id').fill(id);
    await page.getByRole('button', { name: 'Use this business' }).click();
    await expect.poll(() => page.locator('#business-current').textContent()).toContain(id);
  }

  it('connects through the sandbox dialog and shows the connected numbers', async () => {
    await useBusiness('browser-shop');
    await expect.poll(() => page.locator('#not-connected').count()).toBe(1);
    await shot('1-start');
    await page.getByRole('button', { name: 'Connect WhatsApp' }).click();
    await page.waitForURL(/\/dialog\/oauth/);
    await shot('2-meta-dialog');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForURL(/\/dashboard\/integrations\?success=true/);
    await expect.poll(() => page.locator('#connected').count(), { timeout: 15_000 }).toBe(1);
    expect(await page.locator('li.number').count()).toBe(2);
    expect(await page.getByText('WhatsApp connected.').count()).toBe(1);
    await shot('3-connected');
  });

  it('shows the error when the person cancels on Meta’s page', async () => {
    await useBusiness('browser-denied');
    await page.getByRole('button', { name: 'Connect WhatsApp' }).click();
    await page.waitForURL(/\/dialog\/oauth/);
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.waitForURL(/\/dashboard\/integrations\?error=access_denied/);
    expect(await page.locator('#connect-error').textContent()).toContain('access_denied');
    await shot('4-denied');
  });

  it('sends a customer message and shows the reply arriving', async () => {
    await useBusiness('browser-shop');
    await expect.poll(() => page.locator('#to-number option').count(), { timeout: 10_000 }).toBeGreaterThan(0);
    await page.getByLabel('Message', { exact: true }).fill('Do you deliver on Sundays?');
    await page.getByRole('button', { name: 'Send as customer' }).click();
    await expect.poll(() => page.locator('#conversation li.outbound').count(), { timeout: 20_000 }).toBe(1);
    expect(await page.locator('#conversation li.inbound').first().textContent()).toContain(
      'Do you deliver on Sundays?',
    );
    expect(await page.locator('#conversation li.outbound').first().textContent()).toContain(
      stack.config.reply.defaultText,
    );
    expect(await page.locator('#conversation li.inbound a').first().getAttribute('href')).toMatch(
      /^http:\/\/127\.0\.0\.1:8233\/namespaces\/default\/workflows\/message%2F/,
    );
    await shot('5-conversation');
  });

  it('creates a message template and shows it PENDING, then APPROVED after Meta’s review', async () => {
    await useBusiness('browser-shop');
    // The catalogue synced at connect: the account's seeded templates are listed.
    await expect.poll(() => page.locator('tr[data-template="hello_world/en_US"]').count(), { timeout: 20_000 }).toBe(1);
    await page.getByLabel('Name', { exact: true }).fill('browser_welcome');
    await page.getByLabel('Body', { exact: true }).fill('Hello {{1}}, welcome!');
    await page.getByRole('button', { name: 'Create template' }).click();
    await expect.poll(() => page.locator('#template-outcome').textContent()).toContain('PENDING');
    const status = page.locator('tr[data-template="browser_welcome/en_US"] .template-status');
    await expect.poll(() => status.textContent(), { timeout: 15_000 }).toBe('APPROVED');
    await shot('5b-templates');
  });

  it('runs a conversation from the agent inbox: open it, take over, reply, release', async () => {
    await useBusiness('browser-shop');
    const inboxItem = page.locator('#inbox button').first();
    await expect.poll(() => inboxItem.count(), { timeout: 20_000 }).toBe(1);
    await inboxItem.click();
    const messages = page.locator('#inbox-messages li');
    await expect.poll(() => messages.count(), { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
    await page.getByRole('button', { name: 'Take over' }).click();
    await expect.poll(() => page.locator('#inbox-mode').textContent()).toContain('Held by sandbox-agent');

    // The customer writes while the agent holds the conversation: stored, closed `agent`, no bot reply.
    const before = await page.locator('#inbox-messages li.outbound').count();
    await page.getByLabel('Message', { exact: true }).fill('Can a person help me?');
    await page.getByRole('button', { name: 'Send as customer' }).click();
    await expect
      .poll(() => page.locator('#inbox-messages li.inbound').last().textContent(), { timeout: 20_000 })
      .toContain('agent');
    expect(await page.locator('#inbox-messages li.outbound').count()).toBe(before);
    await shot('5c-inbox-taken-over');

    await page.getByLabel('Reply').fill('Hello, a person here.');
    await page.getByRole('button', { name: 'Send as agent' }).click();
    await expect
      .poll(() => page.locator('#inbox-messages li.outbound').last().textContent(), { timeout: 20_000 })
      .toContain('Hello, a person here.');
    expect(await page.locator('#inbox-messages li.outbound').last().textContent()).toContain('Agent sandbox-agent');
    const sent = await stack.db('messages').where({ body: 'Hello, a person here.', direction: 'outbound' }).first();
    expect(sent).toMatchObject({ origin: 'agent', agent_id: 'sandbox-agent' });

    await page.getByRole('button', { name: 'Release to the bot' }).click();
    await expect.poll(() => page.locator('#inbox-mode').textContent()).toContain('The bot answers');
    await page.getByLabel('Message', { exact: true }).fill('Thanks! One more question.');
    await page.getByRole('button', { name: 'Send as customer' }).click();
    await expect
      .poll(() => page.locator('#inbox-messages li.outbound').last().textContent(), { timeout: 20_000 })
      .toContain(stack.config.reply.defaultText);
    await shot('5d-inbox-released');
  });

  it('disconnects', async () => {
    await useBusiness('browser-shop');
    await expect.poll(() => page.locator('#connected').count()).toBe(1);
    await page.getByRole('button', { name: 'Disconnect' }).click();
    await expect.poll(() => page.locator('#not-connected').count(), { timeout: 15_000 }).toBe(1);
    await shot('6-disconnected');
  });

  it('connects through the Embedded Signup popup (the JS SDK stand-in)', async () => {
    await useBusiness('browser-popup');
    const popupOpened = page.waitForEvent('popup');
    await page.getByRole('button', { name: 'Connect with Embedded Signup (popup)' }).click();
    const popup = await popupOpened;
    await popup.getByRole('button', { name: 'Continue' }).click();
    await expect.poll(() => page.locator('#connected').count(), { timeout: 20_000 }).toBe(1);
    expect(await page.locator('li.number').count()).toBe(2);
    await shot('8-popup-connected');
  });

  it('is usable at 360 px wide with visible keyboard focus', async () => {
    await page.setViewportSize({ width: 360, height: 800 });
    await page.goto(`${stack.api!.url}/`);
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(width).toBeLessThanOrEqual(360);
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle);
    expect(outline).not.toBe('none');
    await shot('7-narrow');
  });
});
