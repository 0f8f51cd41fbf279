// A Temporal server of the user's own: a fresh namespace without our search attributes is named by
// /readyz, refused by the worker, never answered with a 500, and set up by `migrate`.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { projectRoot } from '../src/paths.js';
import { startWorker } from '../src/commands/worker.js';
import { startDevServer, type DevServer } from '../src/temporal/dev-server.js';
import {
  SearchAttributesError,
  searchAttributeInstructions,
  wantedSearchAttributes,
} from '../src/temporal/search-attributes.js';
import { newBusinessId } from './helpers/factories.js';
import { authHeaders } from './helpers/jwt.js';
import { freePort } from './helpers/ports.js';
import { startStack, type Stack } from './helpers/stack.js';
import { messageItem, messagesWebhook, postWebhook } from './helpers/webhooks.js';

const run = promisify(execFile);
const ALL = wantedSearchAttributes.map((a) => a.name).sort();

describe('a Temporal server of the user’s own', () => {
  let server: DevServer;
  let stack: Stack;
  beforeAll(async () => {
    server = await startDevServer({
      cli: { kind: 'path', path: inject('temporalCliPath'), origin: 'PATH' },
      port: await freePort(),
      searchAttributes: false,
    });
    stack = await startStack({ api: true, worker: false, env: { TEMPORAL_ADDRESS: server.address } });
  });
  afterAll(async () => {
    await stack?.close();
    await server?.stop();
  });

  async function readyz(): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(`${stack.api!.url}/readyz`);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  it('answers /readyz 503 naming every missing search attribute', async () => {
    const { status, body } = await readyz();
    expect(status).toBe(503);
    expect(body.checks).toEqual({ postgres: 'ok', temporal: 'missing_search_attributes' });
    expect((body.missingSearchAttributes as string[]).sort()).toEqual(ALL);
  });

  it('refuses to start a worker, naming them', async () => {
    const error = await startWorker(stack.config, stack.log, {
      db: stack.db,
      workflowBundlePath: inject('workflowBundlePath'),
      reconcile: false,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SearchAttributesError);
    for (const name of ALL) expect((error as Error).message).toContain(name);
  });

  it('still stores a webhook and answers 200: its starts wait in the outbox until the namespace is ready', async () => {
    const res = await postWebhook(
      stack.api!.url,
      messagesWebhook('1000001', { messages: [messageItem({ phoneNumberId: '1000001', from: '4400000009' })] }),
    );
    expect(res.status).toBe(200);
  });

  it('refuses /connect before the person is sent to Meta', async () => {
    const res = await fetch(`${stack.api!.url}/api/integrations/whatsapp/connect`, {
      headers: { ...(await authHeaders(newBusinessId())), accept: 'application/json' },
    });
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: { code: 'temporal_not_ready' } });
  });

  it('registers them with `migrate`, idempotently, and then everything is ready', async () => {
    const env = { ...process.env, ...stack.env, LOG_LEVEL: 'info' };
    const main = `${projectRoot}/dist/src/main.js`;
    const first = await run('node', [main, 'migrate'], { env });
    expect(first.stdout).toContain('search attributes: registered');
    const second = await run('node', [main, 'migrate'], { env });
    expect(second.stdout).toContain('search attributes: all present');
    await expect.poll(async () => (await readyz()).status, { timeout: 10_000 }).toBe(200);
    const worker = await startWorker(stack.config, stack.log, {
      db: stack.db,
      workflowBundlePath: inject('workflowBundlePath'),
      reconcile: false,
    });
    await worker.shutdown();
  });

  it('notices an attribute removed later, naming only that one', async () => {
    await expect.poll(async () => (await readyz()).status, { timeout: 10_000 }).toBe(200);
    await stack.client.connection.operatorService.removeSearchAttributes({
      namespace: 'default',
      searchAttributes: ['WaMessageId'],
    });
    await expect
      .poll(async () => (await readyz()).body.missingSearchAttributes, { timeout: 10_000 })
      .toEqual(['WaMessageId']);
  });

  it('says what to create where the credentials may not (Temporal Cloud)', () => {
    const text = searchAttributeInstructions('acme.a1b2c', ALL);
    for (const name of ALL) {
      expect(text).toContain(
        `temporal operator search-attribute create --namespace acme.a1b2c --name ${name} --type Keyword`,
      );
      expect(text).toContain(`--sa "${name}=Keyword"`);
    }
    expect(text).toContain('tcld namespace search-attributes add --namespace acme.a1b2c');
  });
});
