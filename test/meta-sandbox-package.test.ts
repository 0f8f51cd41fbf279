// The Meta sandbox is a development dependency the production image does not have: npm keeps it out
// of the production tree (so `npm prune --omit=dev` unlinks it, as the Dockerfile's build stage does),
// the app's build holds none of its code, and only `dev` loads it, with a dynamic import. Without the
// package the app still starts, and sandbox mode says what is missing.
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, symlink } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const repo = resolve(import.meta.dirname, '..');
const NAME = '@waconnect/meta-sandbox';

function run(
  command: string,
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv },
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(command, args, { ...options, timeout: 50_000, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) =>
      done({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr }),
    );
  });
}

interface NpmTree {
  dependencies?: Record<string, NpmTree>;
}

function names(tree: NpmTree): string[] {
  return Object.entries(tree.dependencies ?? {}).flatMap(([name, child]) => [name, ...names(child)]);
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(
    entries.map((entry) =>
      entry.isDirectory() ? filesUnder(join(dir, entry.name)) : Promise.resolve([join(dir, entry.name)]),
    ),
  );
  return nested.flat();
}

describe('the Meta sandbox package', () => {
  const scratch: string[] = [];
  afterAll(() => Promise.all(scratch.map((dir) => rm(dir, { recursive: true, force: true }))));

  it('is a development dependency, linked by file: and not as a workspace', async () => {
    const pkg = JSON.parse(await readFile(join(repo, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(pkg.dependencies).not.toHaveProperty(NAME);
    expect((pkg.devDependencies as Record<string, string>)[NAME]).toBe('file:packages/meta-sandbox');
    // npm prune --omit=dev leaves a workspace linked even when only a devDependency names it.
    expect(pkg).not.toHaveProperty('workspaces');
    const lock = JSON.parse(await readFile(join(repo, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean; dependencies?: Record<string, string> }>;
    };
    expect(lock.packages['packages/meta-sandbox']?.dev).toBe(true);
    expect(lock.packages['']?.dependencies).not.toHaveProperty(NAME);
  });

  it('is absent from the production tree npm computes, and present with the dev dependencies', async () => {
    const production = await run('npm', ['ls', '--omit=dev', '--all', '--json'], { cwd: repo });
    expect(production.code, production.stderr).toBe(0);
    const productionNames = names(JSON.parse(production.stdout) as NpmTree);
    expect(productionNames).toContain('koa');
    expect(productionNames).not.toContain(NAME);
    const all = await run('npm', ['ls', '--json', NAME], { cwd: repo });
    expect(names(JSON.parse(all.stdout) as NpmTree)).toContain(NAME);
  });

  it('leaves no code in the app’s build, where only commands/dev.js loads it, dynamically', async () => {
    const dist = join(repo, 'dist');
    if (!existsSync(join(dist, 'src', 'main.js'))) throw new Error('dist/ is not built: npm run build');
    for (const old of ['src/sandbox', 'src/dashboard', 'src/http/dashboard.js', 'packages'])
      expect(existsSync(join(dist, old)), `dist/${old}`).toBe(false);
    const files = (await filesUnder(join(dist, 'src'))).filter((file) => /\.(c?js)$/.test(file));
    const mentions: string[] = [];
    for (const file of files) {
      const text = await readFile(file, 'utf8');
      if (text.includes('meta-sandbox')) mentions.push(relative(join(dist, 'src'), file));
    }
    expect(mentions).toEqual(['commands/dev.js']);
    const dev = await readFile(join(dist, 'src', 'commands', 'dev.js'), 'utf8');
    const specifiers = [...dev.matchAll(/(import\s*\(|from\s+|import\s+)['"](@waconnect\/meta-sandbox[^'"]*)['"]/g)];
    expect(specifiers.length).toBeGreaterThan(0);
    expect(specifiers.filter((match) => !match[1]!.startsWith('import('))).toEqual([]);
    expect(await readFile(join(dist, 'workflow-bundle.js'), 'utf8')).not.toContain('meta-sandbox');
  });

  it('is not needed to start the app, and sandbox mode without it says it is a development dependency', async () => {
    // The production layout: the build, and node_modules without the package (as after npm prune --omit=dev).
    const dir = await mkdtemp(join(tmpdir(), 'waconnect-no-sandbox-'));
    scratch.push(dir);
    await copyFile(join(repo, 'package.json'), join(dir, 'package.json'));
    await symlink(join(repo, 'dist'), join(dir, 'dist'), 'dir');
    await mkdir(join(dir, 'node_modules'));
    for (const entry of await readdir(join(repo, 'node_modules')))
      if (entry !== '@waconnect') await symlink(join(repo, 'node_modules', entry), join(dir, 'node_modules', entry));
    // Resolve from the links' own paths, so nothing is found through the repository's node_modules.
    const node = (...args: string[]) =>
      run(process.execPath, ['--preserve-symlinks', '--preserve-symlinks-main', 'dist/src/main.js', ...args], {
        cwd: dir,
        env: { PATH: process.env.PATH, HOME: dir, DEV_DATA_DIR: join(dir, 'data'), LOG_LEVEL: 'silent' },
      });

    const usage = await node();
    expect(usage.code, usage.stderr).toBe(0);
    expect(usage.stderr).toContain('usage: waconnect <command>');

    const dev = await node('dev');
    expect(dev.code).toBe(1);
    expect(dev.stderr).toContain(`${NAME}, a development dependency`);
    expect(dev.stderr).not.toContain('fatal:');
  });
});
