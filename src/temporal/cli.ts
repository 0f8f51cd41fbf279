// Finds (or builds) the Temporal CLI whose `server start-dev` runs the local Temporal server,
// for `npm start`, the tests, the benchmarks and the chaos run.
import { spawn } from 'node:child_process';
import { accessSync, constants, mkdirSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';

const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal@v1.5.1';

export type CliSource =
  | { kind: 'path'; path: string; origin: 'TEMPORAL_CLI_PATH' | 'PATH' | '.temporal/bin' | 'go install' }
  /** No binary: the SDK downloads the server itself (needs internet). */
  | { kind: 'sdk-download' };

export class TemporalCliError extends Error {
  override name = 'TemporalCliError';
}

export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string, pathEnv: string | undefined): string | undefined {
  for (const dir of (pathEnv ?? '').split(delimiter)) {
    if (dir && isExecutable(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/** The Go toolchain: on PATH, or where its installer puts it. */
export function findGo(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return onPath('go', env.PATH) ?? (isExecutable('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : undefined);
}

export interface FindCliOptions {
  projectRoot: string;
  env?: NodeJS.ProcessEnv;
  /** Progress lines while building; the first build takes minutes. */
  log?: (line: string) => void;
}

/**
 * In order: TEMPORAL_CLI_PATH; `temporal` on PATH; .temporal/bin/temporal; `go install` into
 * .temporal/bin where Go exists; else the SDK's own download.
 */
export async function findTemporalCli(options: FindCliOptions): Promise<CliSource> {
  const env = options.env ?? process.env;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const explicit = env.TEMPORAL_CLI_PATH;
  if (explicit) {
    if (!isExecutable(explicit)) throw new TemporalCliError(`TEMPORAL_CLI_PATH=${explicit} is not an executable file`);
    return { kind: 'path', path: explicit, origin: 'TEMPORAL_CLI_PATH' };
  }
  const fromPath = onPath('temporal', env.PATH);
  if (fromPath) return { kind: 'path', path: fromPath, origin: 'PATH' };

  const binDir = resolve(options.projectRoot, '.temporal', 'bin');
  const local = join(binDir, 'temporal');
  if (isExecutable(local)) return { kind: 'path', path: local, origin: '.temporal/bin' };

  const go = findGo(env);
  if (go) {
    mkdirSync(binDir, { recursive: true });
    log(
      `Building the Temporal CLI (${TEMPORAL_CLI_MODULE}) into .temporal/bin: the first build takes a few minutes...`,
    );
    await goInstall(go, binDir, env, log);
    if (!isExecutable(local)) throw new TemporalCliError(`go install finished but ${local} is missing`);
    log('Temporal CLI built.');
    return { kind: 'path', path: local, origin: 'go install' };
  }
  return { kind: 'sdk-download' };
}

function goInstall(go: string, binDir: string, env: NodeJS.ProcessEnv, log: (line: string) => void): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const started = Date.now();
    const child = spawn(go, ['install', TEMPORAL_CLI_MODULE], {
      env: { ...env, GOBIN: binDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let tail = '';
    let downloads = 0;
    const onData = (chunk: Buffer) => {
      const text = chunk.toString();
      tail = (tail + text).slice(-4000);
      downloads += (text.match(/go: downloading/g) ?? []).length;
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const ticker = setInterval(() => {
      const seconds = Math.round((Date.now() - started) / 1000);
      log(`  ...still building the Temporal CLI (${seconds}s, ${downloads} modules downloaded)`);
    }, 15_000);
    child.on('error', (error) => {
      clearInterval(ticker);
      reject(new TemporalCliError(`could not run go: ${error.message}`));
    });
    child.on('exit', (code) => {
      clearInterval(ticker);
      if (code === 0) resolvePromise();
      else reject(new TemporalCliError(`go install ${TEMPORAL_CLI_MODULE} failed (exit ${code}):\n${tail}`));
    });
  });
}

export const HOW_TO_GET_TEMPORAL = [
  'The Temporal CLI could not be obtained. Either:',
  `  - install Go and run: GOBIN=$PWD/.temporal/bin go install ${TEMPORAL_CLI_MODULE}`,
  '  - or put a `temporal` binary on PATH (or set TEMPORAL_CLI_PATH to one),',
  '  - or point TEMPORAL_ADDRESS at a running Temporal server.',
].join('\n');
