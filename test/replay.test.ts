// Replays recorded workflow histories against today's workflow code, so a change that breaks
// determinism (and would break workflows already running in production) fails CI.
// The histories come from a real run: `npm run record:histories` (test/histories/record.ts).
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { describe, expect, inject, it } from 'vitest';
import { codecKeyring, parseKeyring } from '../src/crypto.js';
import { projectRoot } from '../src/paths.js';
import { dataConverter, failureConverterPath } from '../src/temporal/client.js';
import { BRANCHES, FIXTURE_KEY, HISTORIES_DIR } from './histories/fixtures.js';

/**
 * The current set at the top of the folder, and under archive/ the sets recorded with earlier
 * workflow code (what may still be running during a deploy): all must replay.
 */
function histories(names?: readonly string[]) {
  const files = (readdirSync(HISTORIES_DIR, { recursive: true }) as string[]).filter(
    (f) => f.endsWith('.json') && (!names || names.includes(f.replace(/\.json$/, ''))),
  );
  return files.map((file) => ({
    workflowId: file.replace(/\.json$/, ''),
    history: JSON.parse(readFileSync(join(HISTORIES_DIR, file), 'utf8')) as unknown,
  }));
}

async function replay(
  codePath: string,
  names?: readonly string[],
): Promise<Array<{ workflowId: string; error: unknown }>> {
  const results = Worker.runReplayHistories(
    {
      workflowBundle: { codePath },
      dataConverter: dataConverter(codecKeyring(parseKeyring(FIXTURE_KEY)), { strict: true }),
    },
    histories(names),
  );
  const out: Array<{ workflowId: string; error: unknown }> = [];
  for await (const result of results) out.push({ workflowId: result.workflowId, error: result.error });
  return out;
}

describe('workflow replay', () => {
  it('has a recorded history for every branch', () => {
    const present = readdirSync(HISTORIES_DIR).map((f) => f.replace(/\.json$/, ''));
    expect(BRANCHES.filter((b) => !present.includes(b))).toEqual([]);
    // The branches the gate must cover at the very least.
    expect(BRANCHES).toEqual(
      expect.arrayContaining([
        'connect-happy-path',
        'connect-transient-retried',
        'connect-compensated',
        'reply-waited-for-turn',
        'send-durable-after-quick-failures',
        'responder-fallback-to-rules',
        'message-cancelled-by-disconnect',
        'refresh-renewed-token',
        'refresh-flagged-reauth',
        'account-event',
        'disconnect',
        'message-replied',
      ]),
    );
  });

  it('replays every recorded history with today’s workflow code', async () => {
    const results = await replay(inject('workflowBundlePath'));
    expect(results.length).toBeGreaterThanOrEqual(BRANCHES.length);
    expect(results.filter((r) => r.error).map((r) => `${r.workflowId}: ${String(r.error)}`)).toEqual([]);
  });

  it('fails a workflow change that is not replay-safe', async () => {
    // A copy of workflows/ whose connect waits one timer before its first activity: a change that
    // would break every connect running during a deploy. Its imports point back at the real tree.
    const scratch = join(projectRoot, 'test', '.scratch');
    mkdirSync(scratch, { recursive: true });
    const dir = mkdtempSync(join(scratch, 'altered-workflows-'));
    try {
      const workflows = join(dir, 'workflows');
      cpSync(join(projectRoot, 'workflows'), workflows, { recursive: true });
      for (const file of readdirSync(workflows).filter((f) => f.endsWith('.ts'))) {
        const path = join(workflows, file);
        const source = readFileSync(path, 'utf8').replace(
          /from '\.\.\/(src|activities)\//g,
          (_, folder: string) => `from '${projectRoot}/${folder}/`,
        );
        writeFileSync(path, source);
      }
      const connectPath = join(workflows, 'connect-whatsapp.ts');
      const original = readFileSync(connectPath, 'utf8');
      const anchor = '  const subscribed: string[] = [];\n';
      expect(original).toContain(anchor);
      writeFileSync(
        connectPath,
        `import { sleep as alteredSleep } from '@temporalio/workflow';\n${original.replace(anchor, `${anchor}  await alteredSleep(1);\n`)}`,
      );
      const { code } = await bundleWorkflowCode({
        workflowsPath: join(workflows, 'index.ts'),
        failureConverterPath,
        logger: {
          log: () => undefined,
          trace: () => undefined,
          debug: () => undefined,
          info: () => undefined,
          warn: () => undefined,
          error: console.error,
        },
      });
      const bundlePath = join(dir, 'workflow-bundle.js');
      writeFileSync(bundlePath, code);

      const [result] = await replay(bundlePath, ['connect-happy-path']);
      expect(result?.workflowId).toBe('connect-happy-path');
      expect((result?.error as Error | undefined)?.name).toBe('DeterminismViolationError');
      // The same bundle still replays a history the change does not touch.
      const [untouched] = await replay(bundlePath, ['message-replied']);
      expect(untouched?.error).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
      if (readdirSync(scratch).length === 0) rmSync(scratch, { recursive: true, force: true });
    }
  }, 120_000);
});
