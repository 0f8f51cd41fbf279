// The real system for benchmarks and the chaos run: a Temporal dev server with npm start's settings
// (SQLite file in WAL mode, eager activities), a fresh PostgreSQL database, the Meta sandbox in
// this process, and the API and worker as separate processes. The production layout
// (test/layout/production.ts) gives the same interface over a full Temporal server, two APIs
// behind a balancer and two workers.
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
import { startSandbox, type RunningSandbox } from '@waconnect/meta-sandbox';
import { findTemporalCli } from '../../src/temporal/cli.js';
import { startDevServer } from '../../src/temporal/dev-server.js';
import type { ConnectionOptions } from '@temporalio/client';
import { freePort } from '../helpers/ports.js';

export interface SystemSecrets {
  CREDENTIALS_ENCRYPTION_KEY: string;
  AUTH_JWT_SECRET: string;
  WHATSAPP_VERIFY_TOKEN: string;
  META_APP_SECRET: string;
  SANDBOX_SESSION_SECRET: string;
}

export type Role = 'api' | 'worker';

export interface ServiceProcess {
  /** The instance: `api` and `worker` in the dev layout, `api-1`, `worker-2`... in production. */
  name: string;
  role: Role;
  child: ChildProcess;
  exited: Promise<void>;
}

export interface BenchSystem {
  layout: 'dev' | 'production';
  dir: string;
  /** Where Meta and browsers reach the API (the balancer in the production layout). */
  apiUrl: string;
  env: NodeJS.ProcessEnv;
  secrets: SystemSecrets;
  db: Db;
  sandbox: RunningSandbox;
  temporal: { address: string };
  /** How a client of ours reaches Temporal (with the client certificate when TLS is on). */
  temporalConnection: ConnectionOptions;
  postgres: EmbeddedPostgres | undefined;
  databaseUrl: string;
  /** The instances of each role, by name. */
  instances: Record<Role, string[]>;
  services: Map<string, ServiceProcess>;
  startService(name: string): Promise<ServiceProcess>;
  killService(name: string, signal?: NodeJS.Signals): Promise<void>;
  stopTemporal(signal?: NodeJS.Signals): Promise<void>;
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

export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export function newSecrets(): SystemSecrets {
  return {
    CREDENTIALS_ENCRYPTION_KEY: generateKeyringEntry('run1'),
    AUTH_JWT_SECRET: randomBytes(32).toString('base64url'),
    WHATSAPP_VERIFY_TOKEN: randomBytes(16).toString('base64url'),
    META_APP_SECRET: randomBytes(16).toString('hex'),
    SANDBOX_SESSION_SECRET: randomBytes(32).toString('base64url'),
  };
}

export interface ServiceRunner {
  services: Map<string, ServiceProcess>;
  startService: (name: string) => Promise<ServiceProcess>;
  killService: (name: string, signal?: NodeJS.Signals) => Promise<void>;
}

/**
 * Runs our API and worker processes (`node dist/src/main.js <role>`), each instance with the
 * shared environment plus its own, logging to `<dir>/<name>.log`. An API counts as started once
 * it answers /healthz.
 */
export function serviceRunner(
  dir: string,
  env: () => NodeJS.ProcessEnv,
  instances: Record<string, { role: Role; env?: NodeJS.ProcessEnv; url?: string }>,
): ServiceRunner {
  const services = new Map<string, ServiceProcess>();
  const startService = async (name: string): Promise<ServiceProcess> => {
    const instance = instances[name];
    if (!instance) throw new Error(`no service ${name}`);
    const out = createWriteStream(join(dir, `${name}.log`), { flags: 'a' });
    const profile = process.env.PROFILE_SERVICES
      ? ['--cpu-prof', `--cpu-prof-dir=${process.env.PROFILE_SERVICES}`]
      : [];
    const child = spawn(process.execPath, [...profile, join(projectRoot, 'dist/src/main.js'), instance.role], {
      env: { ...env(), ...instance.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.pipe(out, { end: false });
    child.stderr!.pipe(out, { end: false });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const reap = () => child.kill('SIGKILL');
    process.once('exit', reap);
    void exited.then(() => process.off('exit', reap));
    const service = { name, role: instance.role, child, exited };
    services.set(name, service);
    if (instance.url) await waitFor(async () => (await fetch(`${instance.url}/healthz`)).ok, 60_000, name);
    return service;
  };
  const killService = async (name: string, signal: NodeJS.Signals = 'SIGKILL') => {
    const service = services.get(name);
    if (!service) return;
    if (service.child.exitCode === null && service.child.signalCode === null) service.child.kill(signal);
    await service.exited;
    services.delete(name);
  };
  return { services, startService, killService };
}

export async function startSystem(options: SystemOptions = {}): Promise<BenchSystem> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const dir = mkdtempSync(join(tmpdir(), 'waconnect-system-'));
  chmodSync(dir, 0o755);
  const secrets = newSecrets();

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

  const { services, startService, killService } = serviceRunner(dir, () => env, {
    api: { role: 'api', url: apiUrl },
    worker: { role: 'worker' },
  });

  await startService('worker');
  await startService('api');
  await waitFor(async () => (await fetch(`${apiUrl}/readyz`)).ok, 30_000, 'readiness');

  return {
    layout: 'dev',
    dir,
    apiUrl,
    env,
    secrets,
    db,
    sandbox,
    get temporal() {
      return temporal;
    },
    get temporalConnection() {
      return { address: temporal.address };
    },
    instances: { api: ['api'], worker: ['worker'] },
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
