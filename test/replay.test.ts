// Replays recorded workflow histories against today's workflow code, so a change that breaks
// determinism (and would break workflows already running in production) fails CI.
// Re-record after an intended, versioned change: RECORD_HISTORIES=1 npx vitest run test/replay.test.ts
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { Worker } from '@temporalio/worker';
import { describe, expect, inject, it } from 'vitest';
import { parseKeyring } from '../src/crypto.js';
import { projectRoot } from '../src/paths.js';
import { dataConverter } from '../src/temporal/client.js';
import { tokenScheduleId } from '../src/temporal/names.js';
import { connectThroughMeta, getStatus } from './helpers/meta-flow.js';
import { authHeaders } from './helpers/jwt.js';
import { startStack } from './helpers/stack.js';

const dir = join(projectRoot, 'test', 'fixtures', 'histories');
// A key for these fixtures only: it protects nothing but test data.
const FIXTURE_KEY = 'fixture:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=';

describe('workflow replay', () => {
  it.runIf(process.env.RECORD_HISTORIES)('records histories of a connect, a message, statuses, a token check and a disconnect', async () => {
    const stack = await startStack({ api: true, sandbox: true, env: { CREDENTIALS_ENCRYPTION_KEY: FIXTURE_KEY } });
    try {
      const businessId = 'replay-fixture';
      await connectThroughMeta(stack.api!.url, businessId);
      const status = await getStatus(stack.api!.url, businessId);
      const phoneNumberId = status.accounts[0].phoneNumbers[0].phoneNumberId as string;
      const { messageId } = stack.sandbox!.state.sendCustomerMessage({ phoneNumberId, from: '4400000001', type: 'text', text: 'replay me' });
      await expect.poll(async () => (await stack.db('messages').where({ wamid: messageId }).first())?.status, { timeout: 20_000 }).toBe('replied');
      await stack.client.schedule.getHandle(tokenScheduleId(status.integration.id)).trigger();
      await new Promise((r) => setTimeout(r, 3000));
      await fetch(`${stack.api!.url}/api/integrations/whatsapp/disconnect`, { method: 'DELETE', headers: await authHeaders(businessId) });
      await new Promise((r) => setTimeout(r, 2000));
      for (const type of ['connectWhatsApp', 'handleMessage', 'recordStatuses', 'refreshToken', 'disconnectWhatsApp']) {
        for await (const w of stack.client.workflow.list({ query: `WorkflowType = '${type}' AND WaBusinessId = '${businessId}'` })) {
          // The CLI's JSON is the format Temporal's tools exchange histories in.
          const json = execFileSync(inject('temporalCliPath'), ['workflow', 'show', '--output', 'json', '--address', stack.config.temporal.address, '--workflow-id', w.workflowId, '--run-id', w.runId]);
          writeFileSync(join(dir, `${type}.json`), json);
          break;
        }
      }
    } finally {
      await stack.close();
    }
  });

  it('replays every recorded history with today’s workflow code', async () => {
    const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
    expect(files.length).toBeGreaterThanOrEqual(3);
    const histories = files.map((file) => ({ workflowId: file.replace(/\.json$/, ''), history: JSON.parse(readFileSync(join(dir, file), 'utf8')) as unknown }));
    const results = Worker.runReplayHistories(
      { workflowBundle: { codePath: inject('workflowBundlePath') }, dataConverter: dataConverter(parseKeyring(FIXTURE_KEY)) },
      histories,
    );
    const failures: string[] = [];
    for await (const result of results) if (result.error) failures.push(`${result.workflowId}: ${String(result.error)}`);
    expect(failures).toEqual([]);
  });
});
