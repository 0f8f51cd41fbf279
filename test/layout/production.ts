// The production layout, run on this machine: a PostgreSQL server of the run's own holding our
// database and Temporal's two; the schema job (temporal-sql-tool); the full Temporal server;
// the namespace job; our migrate; two workers; two APIs behind a balancer; the sandbox as Meta.
// With `tls`, the Temporal server requires client certificates made for the run, and everything
// of ours connects with one through connectTemporal's settings (TEMPORAL_TLS_*).
// The same interface as the dev layout's startSystem, so the chaos run drives either.
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ConnectionOptions } from '@temporalio/client';
import { SANDBOX_APP_ID } from '../../src/config.js';
import { createDb } from '../../src/db.js';
import { startEmbeddedPostgres } from '../../src/dev/postgres.js';
import { projectRoot } from '../../src/paths.js';
import { startSandbox } from '@waconnect/meta-sandbox';
import { findTemporalCli } from '../../src/temporal/cli.js';
import { newSecrets, serviceRunner, waitFor, type BenchSystem, type Role } from '../bench/system.js';
import { freeLowPort, freePort } from '../helpers/ports.js';
import { startBalancer } from './balancer.js';
import { makeLayoutCertificates, type LayoutCertificates } from './certs.js';
import {
  appSettings,
  clientTlsFiles,
  NAMESPACE_RETENTION,
  POSTGRES_MAX_CONNECTIONS,
  REPLICAS,
  temporalServerSettings,
  temporalTlsFiles,
  temporalTlsSettings,
} from './services.js';
import {
  findTemporalServer,
  setUpTemporalSchema,
  startTemporalServer,
  type TemporalServer,
} from './temporal-server.js';

const run = promisify(execFile);

export interface LayoutOptions {
  tls?: boolean;
  /** Extra environment for the APIs and workers. */
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
}

export interface ProductionLayout extends BenchSystem {
  certificates: LayoutCertificates | undefined;
  /** The Temporal server process now running. */
  temporalServer: TemporalServer;
  /** Requests the balancer passed to each API, by port. */
  balanced: Map<number, number>;
  apiPorts: Record<string, number>;
}

export async function startProductionLayout(options: LayoutOptions = {}): Promise<ProductionLayout> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const dir = mkdtempSync(join(tmpdir(), 'waconnect-layout-'));
  chmodSync(dir, 0o755);
  const secrets = newSecrets();
  const cleanups: Array<() => Promise<unknown>> = [];
  const stopAll = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((error: unknown) => log(`stop: ${String(error)}`));
    cleanups.length = 0;
  };
  try {
    const binaries = await findTemporalServer(projectRoot, log);
    const cli = await findTemporalCli({ projectRoot, log });
    if (cli.kind !== 'path') throw new Error('the Temporal CLI is needed for the namespace job');

    // postgres
    const pgPassword = newSecrets().SANDBOX_SESSION_SECRET;
    const pgPort = await freePort();
    const postgres = await startEmbeddedPostgres({
      dataDir: join(dir, 'postgres'),
      port: pgPort,
      password: pgPassword,
      database: 'waconnect',
      maxConnections: POSTGRES_MAX_CONNECTIONS,
    });
    cleanups.push(() => postgres.stop());
    const databaseUrl = postgres.url;
    const db = createDb(databaseUrl, { poolMax: 4 });
    cleanups.push(() => db.destroy());

    // temporal-schema
    await setUpTemporalSchema(binaries, { host: '127.0.0.1', port: pgPort, user: 'postgres', password: pgPassword });
    log('temporal schema set up');

    // temporal
    const certificates = options.tls ? await makeLayoutCertificates(join(dir, 'certs')) : undefined;
    const port = async () => String(await freeLowPort());
    const frontendPort = await port();
    const temporalEnv: Record<string, string> = {
      ...temporalServerSettings,
      DB_PORT: String(pgPort),
      POSTGRES_PORT: String(pgPort),
      POSTGRES_SEEDS: '127.0.0.1',
      POSTGRES_USER: 'postgres',
      POSTGRES_PWD: pgPassword,
      BIND_ON_IP: '127.0.0.1',
      TEMPORAL_BROADCAST_ADDRESS: '127.0.0.1',
      FRONTEND_GRPC_PORT: frontendPort,
      FRONTEND_HTTP_PORT: await port(),
      FRONTEND_MEMBERSHIP_PORT: await port(),
      HISTORY_GRPC_PORT: await port(),
      HISTORY_MEMBERSHIP_PORT: await port(),
      MATCHING_GRPC_PORT: await port(),
      MATCHING_MEMBERSHIP_PORT: await port(),
      WORKER_GRPC_PORT: await port(),
      WORKER_MEMBERSHIP_PORT: await port(),
      DYNAMIC_CONFIG_FILE_PATH: join(projectRoot, 'deploy', 'temporal', 'dynamicconfig.yaml'),
    };
    if (certificates) {
      Object.assign(temporalEnv, temporalTlsSettings);
      for (const [key, file] of Object.entries(temporalTlsFiles)) temporalEnv[key] = join(certificates.dir, file);
    }
    const address = `127.0.0.1:${frontendPort}`;
    const temporalConnection: ConnectionOptions = certificates
      ? {
          address,
          tls: {
            serverNameOverride: certificates.serverName,
            serverRootCACertificate: readFileSync(certificates.caCert),
            clientCertPair: { crt: readFileSync(certificates.clientCert), key: readFileSync(certificates.clientKey) },
          },
        }
      : { address };
    const serverOptions = { binaries, dir, env: temporalEnv, connection: temporalConnection };
    let temporal: TemporalServer = await startTemporalServer(serverOptions);
    cleanups.push(() => temporal.stop());
    log(`temporal server ${address}${certificates ? ' (mTLS)' : ''}`);

    // Our processes' view of Temporal: connectTemporal reads these.
    const clientEnv: NodeJS.ProcessEnv = {
      TEMPORAL_ADDRESS: address,
      TEMPORAL_NAMESPACE: appSettings.TEMPORAL_NAMESPACE,
    };
    if (certificates) {
      for (const [key, file] of Object.entries(clientTlsFiles)) clientEnv[key] = join(certificates.dir, file);
      clientEnv.TEMPORAL_TLS_SERVER_NAME = certificates.serverName;
    }

    // temporal-namespace: the commands compose's job runs, with the same environment (the CLI
    // reads TEMPORAL_ADDRESS and TEMPORAL_TLS_* as connectTemporal does).
    const cliEnv = { PATH: process.env.PATH, HOME: dir, ...clientEnv };
    await run(cli.path, ['operator', 'cluster', 'health'], { env: cliEnv });
    await run(cli.path, ['operator', 'namespace', 'describe', '--namespace', appSettings.TEMPORAL_NAMESPACE], {
      env: cliEnv,
    }).catch(() =>
      run(
        cli.path,
        [
          'operator',
          'namespace',
          'create',
          '--namespace',
          appSettings.TEMPORAL_NAMESPACE,
          '--retention',
          NAMESPACE_RETENTION,
        ],
        { env: cliEnv },
      ),
    );
    log(`namespace ${appSettings.TEMPORAL_NAMESPACE} created`);

    // The sandbox as Meta, posting to the balancer.
    const balancerPort = await freePort();
    const apiUrl = `http://127.0.0.1:${balancerPort}`;
    const sandbox = await startSandbox({
      appId: SANDBOX_APP_ID,
      appSecret: secrets.META_APP_SECRET,
      graphApiVersion: appSettings.META_GRAPH_API_VERSION,
      webhookUrl: `${apiUrl}/api/webhooks/whatsapp`,
      statusDelayMs: 100,
    });
    cleanups.push(() => sandbox.close());

    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      ...appSettings,
      NODE_ENV: 'test',
      LOG_LEVEL: 'warn',
      PUBLIC_URL: apiUrl,
      FRONTEND_URL: 'http://dashboard.test',
      DATABASE_URL: databaseUrl,
      ...clientEnv,
      META_SANDBOX: 'true',
      META_GRAPH_API_URL: sandbox.url,
      META_OAUTH_DIALOG_URL: sandbox.url,
      ...secrets,
      ...options.env,
    };

    // migrate: our database, then the search attributes on the namespace.
    await run(process.execPath, [join(projectRoot, 'dist/src/main.js'), 'migrate', 'latest'], { env });
    log('migrated');

    const instances: Record<string, { role: Role; env?: NodeJS.ProcessEnv; url?: string }> = {};
    const apiPorts: Record<string, number> = {};
    for (let i = 1; i <= REPLICAS.worker; i++)
      instances[`worker-${i}`] = { role: 'worker', env: { WORKER_METRICS_PORT: String(await freePort()) } };
    for (let i = 1; i <= REPLICAS.api; i++) {
      const apiPort = await freePort();
      apiPorts[`api-${i}`] = apiPort;
      instances[`api-${i}`] = { role: 'api', env: { PORT: String(apiPort) }, url: `http://127.0.0.1:${apiPort}` };
    }
    const runner = serviceRunner(dir, () => env, instances);
    cleanups.push(async () => {
      for (const name of runner.services.keys()) await runner.killService(name, 'SIGTERM');
    });
    const names = Object.keys(instances);
    for (const name of names.filter((n) => instances[n]!.role === 'worker')) await runner.startService(name);
    for (const name of names.filter((n) => instances[n]!.role === 'api')) await runner.startService(name);

    // balancer: to the APIs that are running.
    const balancer = await startBalancer(balancerPort, () =>
      [...runner.services.values()].filter((s) => s.role === 'api').map((s) => apiPorts[s.name]!),
    );
    cleanups.push(() => balancer.close());
    for (const name of Object.keys(apiPorts))
      await waitFor(async () => (await fetch(`http://127.0.0.1:${apiPorts[name]}/readyz`)).ok, 60_000, `${name} ready`);
    log(
      `APIs ${Object.keys(apiPorts).join(', ')} behind ${apiUrl}; workers ${names.filter((n) => n.startsWith('worker')).join(', ')}`,
    );

    return {
      layout: 'production',
      dir,
      apiUrl,
      env,
      secrets,
      db,
      sandbox,
      get temporal() {
        return temporal;
      },
      temporalConnection,
      postgres,
      databaseUrl,
      instances: {
        api: names.filter((n) => instances[n]!.role === 'api'),
        worker: names.filter((n) => instances[n]!.role === 'worker'),
      },
      services: runner.services,
      startService: runner.startService,
      killService: runner.killService,
      stopTemporal: async (signal: NodeJS.Signals = 'SIGTERM') => {
        if (signal === 'SIGTERM') await temporal.stop();
        else {
          temporal.child.kill(signal);
          await new Promise((resolve) =>
            temporal.child.exitCode !== null ? resolve(null) : temporal.child.once('exit', resolve),
          );
        }
      },
      startTemporal: async () => {
        temporal = await startTemporalServer(serverOptions);
      },
      stop: async () => {
        await stopAll();
        if (!process.env.KEEP_SYSTEM_DIR) rmSync(dir, { recursive: true, force: true });
      },
      certificates,
      get temporalServer() {
        return temporal;
      },
      balanced: balancer.served,
      apiPorts,
    };
  } catch (error) {
    await stopAll();
    if (!process.env.KEEP_SYSTEM_DIR) rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
