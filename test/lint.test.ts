// The lint gate catches what it is for: a Node built-in imported into workflow code, an un-awaited
// promise, the Meta sandbox imported by production code or the app by the sandbox. It lints probe files in a temporary copy of the
// lint config's scope (the repo's own .oxlintrc.json and tsconfig.json, node_modules linked), so
// nothing is ever planted in the repo, and the copy is removed whatever happens.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, copyFile, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const repo = resolve(import.meta.dirname, '..');
const oxlint = join(repo, 'node_modules', '.bin', 'oxlint');

interface Diagnostic {
  code: string;
  filename: string;
  message: string;
  help?: string;
}

const scopes: string[] = [];
afterEach(async () => {
  await Promise.all(scopes.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/** Lints `files` (path → source) in a fresh copy of the config's scope; returns exit code and diagnostics. */
async function lint(files: Record<string, string>): Promise<{ code: number; diagnostics: Diagnostic[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'waconnect-lint-'));
  scopes.push(dir);
  await copyFile(join(repo, '.oxlintrc.json'), join(dir, '.oxlintrc.json'));
  await copyFile(join(repo, 'tsconfig.json'), join(dir, 'tsconfig.json'));
  await symlink(join(repo, 'node_modules'), join(dir, 'node_modules'), 'dir');
  for (const [path, source] of Object.entries(files)) {
    await mkdir(join(dir, path, '..'), { recursive: true });
    await writeFile(join(dir, path), source);
  }
  return new Promise((done, fail) => {
    execFile(
      oxlint,
      ['--type-aware', '--deny-warnings', '--format', 'json'],
      { cwd: dir, timeout: 50_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        try {
          const report = JSON.parse(stdout) as { diagnostics: Diagnostic[] };
          done({ code, diagnostics: report.diagnostics });
        } catch {
          fail(new Error(`oxlint printed no JSON report (exit ${code}): ${stderr || stdout}`));
        }
      },
    );
  });
}

const cleanWorkflow = `import { sleep } from '@temporalio/workflow';
import type { Knex } from 'knex';
export async function probeWorkflow(db?: Knex): Promise<void> {
  if (db) return;
  await sleep('1s');
}
`;
const cleanSource = `async function work(): Promise<void> {}
export async function caller(): Promise<void> {
  await work();
  void work().catch(() => undefined);
}
`;
const sandboxImport = `import { startSandbox } from '@waconnect/meta-sandbox';\nexport const start = startSandbox;\n`;

describe('npm run lint', () => {
  it('passes the same files written correctly (so a failure below is the planted code)', async () => {
    const { code, diagnostics } = await lint({
      'workflows/probe.ts': cleanWorkflow,
      'src/probe.ts': cleanSource,
      'src/commands/dev.ts': sandboxImport,
      'packages/meta-sandbox/src/probe.ts': `import { sandboxImport } from './sibling.js';\nexport const probe = sandboxImport;\n`,
    });
    expect(diagnostics).toEqual([]);
    expect(code).toBe(0);
  });

  it('fails on node:fs in workflows/, an un-awaited promise in src/, the sandbox in production code and the app in the sandbox', async () => {
    const { code, diagnostics } = await lint({
      'workflows/probe.ts': `import { readFileSync } from 'node:fs';\n${cleanWorkflow}export const read = readFileSync;\n`,
      'src/probe.ts': cleanSource.replace('  await work();', '  work();'),
      'src/commands/probe.ts': sandboxImport,
      'packages/meta-sandbox/src/probe.ts': `import { randomToken } from '../../../src/crypto.js';\nexport const token = randomToken;\n`,
    });
    expect(code).not.toBe(0);
    const found = diagnostics.map((d) => `${d.filename} ${d.code}`);
    expect(found).toContain('workflows/probe.ts eslint(no-restricted-imports)');
    expect(found).toContain('src/probe.ts typescript(no-floating-promises)');
    expect(found).toContain('src/commands/probe.ts eslint(no-restricted-imports)');
    expect(found).toContain('packages/meta-sandbox/src/probe.ts eslint(no-restricted-imports)');
    const builtin = diagnostics.find((d) => d.filename === 'workflows/probe.ts');
    expect(builtin?.message).toContain('node:fs');
    expect(builtin?.help).toContain('Node built-ins');
  });

  it('bans every Node built-in in workflow code, bare and node:', async () => {
    const config = JSON.parse(await readFile(join(repo, '.oxlintrc.json'), 'utf8')) as {
      overrides: { files: string[]; rules: Record<string, unknown> }[];
    };
    const workflows = config.overrides.find((o) => o.files.includes('workflows/**'));
    if (!workflows) throw new Error('.oxlintrc.json has no override for workflows/**');
    const [, options] = workflows.rules['no-restricted-imports'] as [string, { patterns: { regex?: string }[] }];
    const regexes = options.patterns.flatMap((p) => (p.regex ? [new RegExp(p.regex)] : []));
    const unbanned = builtinModules
      .flatMap((name) => (name.startsWith('node:') ? [name] : [name, `node:${name}`]))
      .filter((name) => !regexes.some((regex) => regex.test(name)));
    expect(unbanned).toEqual([]);
  });
});
