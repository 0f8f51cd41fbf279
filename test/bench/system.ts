// The real system for benchmarks and the chaos run: a Temporal dev server with npm start's settings
// (SQLite file in WAL mode, eager activities), a fresh PostgreSQL database, the Meta sandbox in
// this process, and the API and worker as separate processes.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SANDBOX_APP_ID } from '../../src/config.js';
import { generateKeyringEntry } from '../../src/crypto.js';
import { createDb, dropDatabase, ensureDatabase, migrateLatest, type Db } from '../../src/db.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/dev/postgres.js';
import { projectRoot } from '../../src/paths.js';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { findTemporalCli } from '../../src/temporal/cli.js';
import { startDevServer, type DevServer } from '../../src/temporal/dev-server.js';
import { freePort } from '../helpers/ports.js';

export interface SystemSecrets {
  CREDENTIALS_ENCRYPTION_KEY: string;
  AUTH_JWT_SECRET: string;
  WHATSAPP_VERIFY_TOKEN: string;
  META_APP_SECRET: string;
  SANDBOX_SESSION_SECRET: string;
}

export interface ServiceProcess {
  name: 'api' | 'worker';
  child: ChildProcess;
  exited: Promise<void>;
}

export interface BenchSystem {
  dir: string;
  apiUrl: string;
  env: NodeJS.ProcessEnv;
  secrets: SystemSecrets;
  db: Db;
  sandbox: RunningSandbox;
  temporal: DevServer;
  postgres: EmbeddedPostgres | undefined;
  databaseUrl: string;
  services: Map<'api' | 'worker', ServiceProcess>;
  startService(name: 'api' | 'worker'): Promise<ServiceProcess>;
  killService(name: 'api' | 'worker', signal?: NodeJS.Signals): Promise<void>;
  stopTemporal(): Promise<void>;
  startTemporal(): Promise<void>;
  stop(): Promise<void>;
}

export interface SystemOptions {
  /** Extra environment for the API and worker. */
  env?: NodeJS.ProcessEnv;
  /** Start an embedded PostgreSQL of the run's own (the chaos run restarts it) instead of DATABASE_URL. */
  ownPostgres?: boolean;
  log?: (line: string) => void;
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export async function startSystem(options: SystemOptions = {}): Promise<BenchSystem> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const dir = mkdtempSync(join(tmpdir(), 'waconnect-system-'));
  chmodSync(dir, 0o755);
  const secrets: SystemSecrets = {
    CREDENTIALS_ENCRYPTION_KEY: generateKeyringEntry('run1'),
    AUTH_JWT_SECRET: randomBytes(32).toString('base64url'),
    WHATSAPP_VERIFY_TOKEN: randomBytes(16).toString('base64url'),
    META_APP_SECRET: randomBytes(16).toString('hex'),
    SANDBOX_SESSION_SECRET: randomBytes(32).toString('base64url'),
  };

  let postgres: EmbeddedPostgres | undefined;
  let databaseUrl: string;
  if (options.ownPostgres || !process.env.DATABASE_URL) {
    postgres = await startEmbeddedPostgres({
      dataDir: join(dir, 'postgres'),
      port: await freePort(),
      password: 'bench',
      database: 'waconnect',
    });
    databaseUrl = postgres.url;
  } else {
    const url = new URL(process.env.DATABASE_URL);
    url.pathname = `/waconnect_bench_${randomBytes(4).toString('hex')}`;
    databaseUrl = url.toString();
  }
  await ensureDatabase(databaseUrl);
  const db = createDb(databaseUrl, { poolMax: 4 });
  await migrateLatest(db);

  const cli = await findTemporalCli({ projectRoot, log });
  const temporalPort = await freePort();
  const temporalOptions = {
    cli,
    port: temporalPort,
    dbFile: join(dir, 'temporal.db'),
    logFile: join(dir, 'temporal.log'),
  };
  let temporal = await startDevServer(temporalOptions);

  const apiPort = await freePort();
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const sandbox = await startSandbox({
    appId: SANDBOX_APP_ID,
    appSecret: secrets.META_APP_SECRET,
    graphApiVersion: 'v25.0',
    webhookUrl: `${apiUrl}/api/webhooks/whatsapp`,
    statusDelayMs: 100,
  });

  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    NODE_ENV: 'test',
    LOG_LEVEL: 'warn',
    PORT: String(apiPort),
    PUBLIC_URL: apiUrl,
    FRONTEND_URL: 'http://dashboard.test',
    DATABASE_URL: databaseUrl,
    TEMPORAL_ADDRESS: temporal.address,
    META_SANDBOX: 'true',
    META_GRAPH_API_URL: sandbox.url,
    META_OAUTH_DIALOG_URL: sandbox.url,
    ...secrets,
    ...options.env,
  };

  const services = new Map<'api' | 'worker', ServiceProcess>();
  const startService = async (name: 'api' | 'worker'): Promise<ServiceProcess> => {
    const out = createWriteStream(join(dir, `${name}.log`), { flags: 'a' });
    const profile = process.env.PROFILE_SERVICES
      ? ['--cpu-prof', `--cpu-prof-dir=${process.env.PROFILE_SERVICES}`]
      : [];
    const child = spawn(process.execPath, [...profile, join(projectRoot, 'dist/src/main.js'), name], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.pipe(out, { end: false });
    child.stderr!.pipe(out, { end: false });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const reap = () => child.kill('SIGKILL');
    process.once('exit', reap);
    void exited.then(() => process.off('exit', reap));
    const service = { name, child, exited };
    services.set(name, service);
    if (name === 'api') await waitFor(async () => (await fetch(`${apiUrl}/healthz`)).ok, 30_000, 'the API');
    return service;
  };
  const killService = async (name: 'api' | 'worker', signal: NodeJS.Signals = 'SIGKILL') => {
    const service = services.get(name);
    if (!service) return;
    if (service.child.exitCode === null && service.child.signalCode === null) service.child.kill(signal);
    await service.exited;
    services.delete(name);
  };

  await startService('worker');
  await startService('api');
  await waitFor(async () => (await fetch(`${apiUrl}/readyz`)).ok, 30_000, 'readiness');

  return {
    dir,
    apiUrl,
    env,
    secrets,
    db,
    sandbox,
    get temporal() {
      return temporal;
    },
    postgres,
    databaseUrl,
    services,
    startService,
    killService,
    stopTemporal: () => temporal.stop(),
    startTemporal: async () => {
      temporal = await startDevServer(temporalOptions);
    },
    stop: async () => {
      for (const name of ['api', 'worker'] as const) await killService(name, 'SIGTERM');
      await sandbox.close();
      await temporal.stop();
      await db.destroy();
      if (postgres) await postgres.stop();
      else await dropDatabase(databaseUrl).catch(() => undefined);
      if (!process.env.KEEP_SYSTEM_DIR) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function median(values: number[]): number {
  return percentile(values, 50);
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}
