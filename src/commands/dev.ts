// `dev` (npm start): PostgreSQL, a Temporal dev server, migrations, the worker and the API in one
// process tree for a laptop. Ctrl-C stops all of it. In sandbox mode it also starts the Meta sandbox
// and mounts its demo dashboard on the API: a development dependency, loaded only then.
import { join } from 'node:path';
import type Router from '@koa/router';
import type { RunningSandbox } from '@waconnect/meta-sandbox';
import { loadConfig, type Config } from '../config.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../dev/postgres.js';
import { takenPorts } from '../dev/ports.js';
import { loadOrCreateDevSecrets } from '../dev/secrets.js';
import { createLogger, type Logger } from '../logger.js';
import { dataDir as defaultDataDir, projectRoot } from '../paths.js';
import { findTemporalCli, HOW_TO_GET_TEMPORAL, TemporalCliError } from '../temporal/cli.js';
import { startDevServer, type DevServer } from '../temporal/dev-server.js';
import { startApi, type RunningApi } from './api.js';
import { runMigrations, setUpTemporal } from './migrate.js';
import { startWorker, type RunningWorker } from './worker.js';
import { SANDBOX_SESSION_ISSUER, SANDBOX_SESSION_KID, type Role } from '../http/auth.js';
import { CODEC_PATH } from '../http/codec.js';

const TEMPORAL_PORT = 7233;
const TEMPORAL_UI_PORT = 8233;
const EMBEDDED_POSTGRES_PORT = 5433;
const SANDBOX_PORT = 8001;

export class DevStartError extends Error {
  override name = 'DevStartError';
}

/** The production image has no sandbox (npm prune --omit=dev removes it): say so, not a stack trace. */
async function loadSandbox<T>(load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (error) {
    const missing =
      (error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && String(error).includes('meta-sandbox');
    if (!missing) throw error;
    throw new DevStartError(
      'Sandbox mode needs the Meta sandbox, @waconnect/meta-sandbox, a development dependency that is not installed ' +
        'or not built: install the dev dependencies and build (npm ci && npm run build), or set META_APP_ID to use a real Meta app.',
      { cause: error },
    );
  }
}

/** The sandbox's demo dashboard, minting sessions the way src/http/auth.ts verifies them. */
export async function sandboxDashboard(config: Config): Promise<Router> {
  const { dashboardRoutes } = await loadSandbox(() => import('@waconnect/meta-sandbox/dashboard'));
  const secret = config.auth.sandboxSessionSecret;
  if (!secret) throw new DevStartError('The sandbox dashboard needs SANDBOX_SESSION_SECRET.');
  // The demo's person is the business's admin and its agent: the inbox takes conversations over.
  const roles: Role[] = ['admin', 'agent'];
  return dashboardRoutes({
    session: {
      secret,
      issuer: SANDBOX_SESSION_ISSUER,
      kid: SANDBOX_SESSION_KID,
      businessClaim: config.auth.businessClaim,
      roleClaim: config.auth.roleClaim,
      roles,
    },
    page: {
      namespace: config.temporal.namespace,
      appId: config.meta.appId,
      configId: config.meta.configId,
      graphApiVersion: config.meta.graphApiVersion,
    },
    links: { sandboxUrl: config.meta.graphApiUrl, temporalUiUrl: config.temporal.uiUrl },
  });
}

export async function runDev(env: NodeJS.ProcessEnv): Promise<void> {
  const pretty = Boolean(process.stdout.isTTY);
  const log = createLogger({ level: env.LOG_LEVEL ?? 'info', pretty, name: 'dev' });
  // DEV_DATA_DIR lets the start-up benchmark measure a cold start without touching .data/.
  const dataDir = env.DEV_DATA_DIR ?? defaultDataDir;
  const secrets = loadOrCreateDevSecrets(join(dataDir, 'dev-secrets.json'));
  const sandbox = !env.META_APP_ID;
  // Before anything starts: without the sandbox package, sandbox mode cannot run at all.
  if (sandbox) await loadSandbox(() => import('@waconnect/meta-sandbox'));
  const port = Number(env.PORT ?? 8000);

  // Configured values win; generated ones fill the gaps.
  const devEnv: NodeJS.ProcessEnv = {
    CREDENTIALS_ENCRYPTION_KEY: secrets.CREDENTIALS_ENCRYPTION_KEY,
    AUTH_JWT_SECRET: secrets.AUTH_JWT_SECRET,
    WHATSAPP_VERIFY_TOKEN: secrets.WHATSAPP_VERIFY_TOKEN,
    ...(sandbox
      ? {
          META_SANDBOX: 'true',
          META_APP_SECRET: secrets.META_APP_SECRET,
          SANDBOX_SESSION_SECRET: secrets.SANDBOX_SESSION_SECRET,
          // The sandbox serves both Meta hosts (graph.facebook.com and www.facebook.com) on one port.
          META_GRAPH_API_URL: `http://localhost:${SANDBOX_PORT}`,
          META_OAUTH_DIALOG_URL: `http://localhost:${SANDBOX_PORT}`,
        }
      : {}),
    ...env,
  };

  const wanted = [{ port, label: 'PORT, the API' }];
  if (sandbox) wanted.push({ port: SANDBOX_PORT, label: 'the Meta sandbox' });
  if (!env.TEMPORAL_ADDRESS)
    wanted.push(
      { port: TEMPORAL_PORT, label: 'the Temporal dev server' },
      { port: TEMPORAL_UI_PORT, label: 'the Temporal UI' },
    );
  if (!env.DATABASE_URL) wanted.push({ port: EMBEDDED_POSTGRES_PORT, label: 'the embedded PostgreSQL' });
  const taken = await takenPorts(wanted);
  if (taken.length)
    throw new DevStartError(
      `Port already in use: ${taken.join(', ')}. Stop what holds it, or set PORT / DATABASE_URL / TEMPORAL_ADDRESS.`,
    );

  const stack: Array<{ name: string; stop: () => Promise<void> }> = [];
  const stopAll = async () => {
    for (const item of stack.reverse()) {
      try {
        await item.stop();
      } catch (error) {
        log.warn({ err: (error as Error).message }, `stopping ${item.name} failed`);
      }
    }
  };
  let stopping: Promise<void> | undefined;
  const onSignal = (signal: string) => {
    if (stopping) return;
    log.info(`${signal}: stopping everything...`);
    stopping = stopAll().then(() => process.exit(0));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    let postgres: EmbeddedPostgres | undefined;
    if (!env.DATABASE_URL) {
      log.info(`starting embedded PostgreSQL (data in ${join(dataDir, 'postgres')})...`);
      postgres = await startEmbeddedPostgres({
        dataDir: join(dataDir, 'postgres'),
        port: EMBEDDED_POSTGRES_PORT,
        password: secrets.POSTGRES_PASSWORD,
        database: 'waconnect',
        log: (line) => log.debug({ postgres: line }),
      });
      stack.push({ name: 'PostgreSQL', stop: () => postgres!.stop() });
      devEnv.DATABASE_URL = postgres.url;
    }

    let temporalServer: DevServer | undefined;
    if (!env.TEMPORAL_ADDRESS) {
      let cli;
      try {
        cli = await findTemporalCli({ projectRoot, env, log: (line) => log.info(line) });
      } catch (error) {
        if (error instanceof TemporalCliError) throw new DevStartError(`${error.message}\n${HOW_TO_GET_TEMPORAL}`);
        throw error;
      }
      log.info(`starting the Temporal dev server (state in ${join(dataDir, 'temporal.db')})...`);
      temporalServer = await startDevServer({
        cli,
        port: TEMPORAL_PORT,
        uiPort: TEMPORAL_UI_PORT,
        dbFile: join(dataDir, 'temporal.db'),
        logFile: join(dataDir, 'temporal.log'),
        // The UI decodes payloads through our API (open on localhost in sandbox mode).
        codecEndpoint: `${env.PUBLIC_URL ?? `http://localhost:${port}`}${CODEC_PATH}`,
      });
      stack.push({ name: 'Temporal dev server', stop: () => temporalServer!.stop() });
      devEnv.TEMPORAL_ADDRESS = temporalServer.address;
      devEnv.TEMPORAL_UI_URL ??= temporalServer.uiUrl;
    }

    const config = loadConfig(devEnv, 'dev');
    await runMigrations(config.databaseUrl, 'latest', log);
    // A Temporal server of the user's own gets its search attributes now; ours has them already.
    if (env.TEMPORAL_ADDRESS) await setUpTemporal(config, log);

    let sandbox: RunningSandbox | undefined;
    let sandboxRoutes: Router | undefined;
    if (config.meta.sandbox) {
      const { startSandbox } = await loadSandbox(() => import('@waconnect/meta-sandbox'));
      sandboxRoutes = await sandboxDashboard(config);
      sandbox = await startSandbox({
        appId: config.meta.appId,
        appSecret: config.meta.appSecret,
        graphApiVersion: config.meta.graphApiVersion,
        port: SANDBOX_PORT,
        host: '127.0.0.1',
        publicUrl: `http://localhost:${SANDBOX_PORT}`,
        webhookUrl: `${config.publicUrl}/api/webhooks/whatsapp`,
        log: (line) => log.debug({ component: 'sandbox' }, line),
      });
      stack.push({ name: 'Meta sandbox', stop: () => sandbox!.close() });
    }

    const worker: RunningWorker = await startWorker(config, log.child({ component: 'worker' }));
    stack.push({ name: 'worker', stop: () => worker.shutdown() });
    const api: RunningApi = await startApi(config, log.child({ component: 'api' }), { sandboxRoutes });
    stack.push({ name: 'API', stop: () => api.close() });

    printBanner(log, { apiUrl: api.url, temporalUiUrl: config.temporal.uiUrl, sandboxUrl: sandbox?.url });
    await worker.done;
  } catch (error) {
    await stopAll();
    throw error;
  }
}

function printBanner(
  log: Logger,
  info: { apiUrl: string; temporalUiUrl: string | undefined; sandboxUrl: string | undefined },
): void {
  const lines = [
    '',
    `  waconnect is running${info.sandboxUrl ? ' in SANDBOX MODE (a local stand-in for Meta; no real WhatsApp traffic)' : ''}`,
    `  API          ${info.apiUrl}   (try: curl ${info.apiUrl}/readyz)`,
    `  Temporal UI  ${info.temporalUiUrl ?? '(your Temporal server)'}`,
    ...(info.sandboxUrl ? [`  Meta sandbox ${info.sandboxUrl}`] : []),
    '  Ctrl-C stops everything.',
    '',
  ];
  if (process.stdout.isTTY) process.stdout.write(`${lines.join('\n')}\n`);
  else
    log.info(
      { apiUrl: info.apiUrl, temporalUiUrl: info.temporalUiUrl, sandboxUrl: info.sandboxUrl },
      lines.join(' ').replace(/\s+/g, ' '),
    );
}
