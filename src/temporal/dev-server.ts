// Runs `temporal server start-dev` as a child process: for `npm start`, the tests, the benchmarks
// and the chaos run, with SQLite in WAL mode and eager activity dispatch: the fastest settings measured on two cores.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Connection } from '@temporalio/client';
import type { CliSource } from './cli.js';
import { searchAttributeArgs, searchAttributes } from './names.js';

export interface DevServerOptions {
  cli: CliSource;
  ip?: string;
  port: number;
  /** 0 or undefined: no UI. */
  uiPort?: number;
  /** SQLite file; workflows survive a restart. Undefined: in memory. */
  dbFile?: string;
  namespace?: string;
  codecEndpoint?: string;
  /** Where the server's own log goes; undefined: discarded. */
  logFile?: string;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** Register our search attributes at start (default); false gives a bare namespace, as a new user's. */
  searchAttributes?: boolean;
}

export interface DevServer {
  address: string;
  uiUrl: string | undefined;
  stop(): Promise<void>;
  /** The child process, or undefined when the SDK runs the server. */
  child: ChildProcess | undefined;
}

function devServerArgs(options: DevServerOptions): string[] {
  const ip = options.ip ?? '127.0.0.1';
  const args = ['server', 'start-dev', '--ip', ip, '--port', String(options.port)];
  args.push('--namespace', options.namespace ?? 'default');
  if (options.uiPort) args.push('--ui-ip', ip, '--ui-port', String(options.uiPort));
  else args.push('--headless');
  if (options.dbFile) {
    // WAL with synchronous=normal survives a process crash and triples start throughput.
    args.push(
      '--db-filename',
      options.dbFile,
      '--sqlite-pragma',
      'journal_mode=wal',
      '--sqlite-pragma',
      'synchronous=normal',
    );
  }
  args.push(
    // Eager activity dispatch saves a round trip per activity when the worker has a free slot.
    '--dynamic-config-value',
    'system.enableActivityEagerExecution=true',
    '--log-level',
    options.logLevel ?? 'warn',
    ...(options.searchAttributes === false ? [] : searchAttributeArgs),
  );
  if (options.codecEndpoint) args.push('--ui-codec-endpoint', options.codecEndpoint);
  return args;
}

export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const ip = options.ip ?? '127.0.0.1';
  const address = `${ip}:${options.port}`;
  const uiUrl = options.uiPort
    ? `http://${ip === '0.0.0.0' || ip === '127.0.0.1' ? 'localhost' : ip}:${options.uiPort}`
    : undefined;
  if (options.cli.kind === 'sdk-download') return startWithSdkDownload(options, uiUrl);

  if (options.dbFile) mkdirSync(dirname(options.dbFile), { recursive: true });
  const child = spawn(options.cli.path, devServerArgs(options), {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, TEMPORAL_CLI_SHOW_SPINNER: '0' },
  });
  let output = '';
  const log = options.logFile ? createWriteStream(options.logFile, { flags: 'a' }) : undefined;
  for (const stream of [child.stdout, child.stderr]) {
    stream?.on('data', (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-4000);
      log?.write(chunk);
    });
  }
  const exited = new Promise<number | null>((resolveExit) => child.on('exit', (code) => resolveExit(code)));
  // The server never outlives the process that started it.
  const reap = () => child.kill('SIGKILL');
  process.once('exit', reap);
  void exited.then(() => process.off('exit', reap));
  try {
    await waitUntilServing(address, exited, () => output);
  } catch (error) {
    child.kill('SIGKILL');
    log?.end();
    throw error;
  }
  return {
    address,
    uiUrl,
    child,
    stop: async () => {
      await terminate(child, exited, 10_000);
      log?.end();
    },
  };
}

/** SIGTERM, then SIGKILL if the process has not exited within the grace; resolves once it has. */
export async function terminate(child: ChildProcess, exited: Promise<unknown>, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

async function waitUntilServing(address: string, exited: Promise<number | null>, output: () => string): Promise<void> {
  const deadline = Date.now() + 60_000;
  let exitCode: number | null | undefined;
  void exited.then((code) => (exitCode = code ?? -1));
  while (Date.now() < deadline) {
    if (exitCode !== undefined) {
      throw new Error(`temporal server start-dev exited (code ${exitCode}):\n${output()}`);
    }
    try {
      const connection = await Connection.connect({ address, connectTimeout: '1s' });
      try {
        await connection.workflowService.getSystemInfo({});
        return;
      } finally {
        await connection.close();
      }
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  throw new Error(`temporal server start-dev did not answer on ${address} within 60 s:\n${output()}`);
}

async function startWithSdkDownload(options: DevServerOptions, uiUrl: string | undefined): Promise<DevServer> {
  const { TestWorkflowEnvironment } = await import('@temporalio/testing');
  const extraArgs = devServerArgs(options).filter((arg, i, all) => {
    // The SDK sets ip, port, namespace, UI and db file itself; pass only the rest.
    const owned = [
      '--ip',
      '--port',
      '--namespace',
      '--ui-ip',
      '--ui-port',
      '--db-filename',
      '--log-level',
      '--search-attribute',
    ];
    return (
      !['server', 'start-dev', '--headless'].includes(arg) && !owned.includes(arg) && !owned.includes(all[i - 1] ?? '')
    );
  });
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'cached-download' },
      ip: options.ip ?? '127.0.0.1',
      port: options.port,
      namespace: options.namespace ?? 'default',
      ...(options.uiPort ? { ui: true, uiPort: options.uiPort } : {}),
      ...(options.dbFile ? { dbFilename: options.dbFile } : {}),
      searchAttributes: Object.values(searchAttributes),
      extraArgs,
    },
  });
  return { address: env.address, uiUrl, child: undefined, stop: () => env.teardown() };
}
