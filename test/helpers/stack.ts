// A running slice of the real system for one test file: its own task queue and worker on the shared
// Temporal dev server, the shared test database, and (when asked) the API on a free port.
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { inject } from 'vitest';
import { TEST_SECRETS } from './secrets.js';
import { loadConfig, type Config } from '../../src/config.js';
import { createDb, dropDatabase, ensureDatabase, migrateLatest, type Db } from '../../src/db.js';
import { createLogger, type Logger } from '../../src/logger.js';
import { startApi, type RunningApi } from '../../src/commands/api.js';
import { sandboxDashboard } from '../../src/commands/dev.js';
import { startWorker, type RunningWorker } from '../../src/commands/worker.js';
import { connectTemporal } from '../../src/temporal/client.js';
import { SANDBOX_APP_ID } from '../../src/config.js';
import { freePort } from './ports.js';
import { startSandbox, type RunningSandbox } from '@waconnect/meta-sandbox';

export { TEST_SECRETS };

export function testEnv(overrides: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    PORT: '0',
    DATABASE_URL: inject('databaseUrl'),
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    TEMPORAL_TASK_QUEUE: `test-${randomUUID()}`,
    META_SANDBOX: 'true',
    META_GRAPH_API_URL: 'http://127.0.0.1:9',
    META_OAUTH_DIALOG_URL: 'http://127.0.0.1:9',
    // Workers started as child processes create the reconcile and retention Schedules; a test run sharing
    // one namespace and one database must not have them fire mid-run on another file's schedules and rows.
    RECONCILE_INTERVAL: '24h',
    RETENTION_SWEEP_INTERVAL: '24h',
    ...TEST_SECRETS,
    ...overrides,
  };
}

/** A migrated database of its own on the test run's server. */
export async function ownDatabase(): Promise<string> {
  const url = new URL(inject('databaseUrl'));
  url.pathname = `/waconnect_own_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  const databaseUrl = url.toString();
  await ensureDatabase(databaseUrl);
  const db = createDb(databaseUrl, { poolMax: 1 });
  await migrateLatest(db);
  await db.destroy();
  return databaseUrl;
}

export const DASHBOARD_URL = 'http://dashboard.test';

export interface Stack {
  /** The environment the config was loaded from (for child processes of the same setup). */
  env: NodeJS.ProcessEnv;
  sandbox: RunningSandbox | undefined;
  config: Config;
  db: Db;
  log: Logger;
  client: Client;
  worker: RunningWorker | undefined;
  api: RunningApi | undefined;
  close(): Promise<void>;
}

export interface StackOptions {
  env?: NodeJS.ProcessEnv;
  worker?: boolean;
  api?: boolean;
  /** Start a Meta sandbox and point the config at it (webhooks go to the API when it runs). */
  sandbox?: boolean;
  /** Redirect to the API's own dashboard (sandbox mode's default) instead of a test domain. */
  dashboardOnApi?: boolean;
  /** The API's public host name (default 127.0.0.1); the API listens on 127.0.0.1 either way. */
  publicHost?: string;
  /**
   * A migrated database of the file's own, dropped on close: for a test that runs reconcile, which
   * sweeps every integration of its database and would otherwise touch other files' schedules.
   */
  ownDatabase?: boolean;
  /** Where log lines go (JSON, one per line); default: the level from TEST_LOG_LEVEL to stdout. */
  logLines?: string[];
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const sandbox = options.sandbox
    ? await startSandbox({
        appId: SANDBOX_APP_ID,
        appSecret: TEST_SECRETS.META_APP_SECRET,
        graphApiVersion: 'v25.0',
        statusDelayMs: 50,
      })
    : undefined;
  // The API listens on a port the kernel picks, and its URLs follow it; a public host name of its
  // own (a browser's cookie domain) needs the port up front.
  const port = options.api && options.publicHost ? await freePort() : 0;
  const ownDatabaseUrl = options.ownDatabase ? await ownDatabase() : undefined;
  const env = testEnv({
    ...(ownDatabaseUrl ? { DATABASE_URL: ownDatabaseUrl } : {}),
    PORT: String(port),
    ...(options.publicHost ? { PUBLIC_URL: `http://${options.publicHost}:${port}` } : {}),
    ...(options.dashboardOnApi ? {} : { FRONTEND_URL: DASHBOARD_URL }),
    ...(sandbox ? { META_GRAPH_API_URL: sandbox.url, META_OAUTH_DIALOG_URL: sandbox.url } : {}),
    ...options.env,
  });
  const lines = options.logLines;
  const given = loadConfig(env, 'dev');
  const log = lines
    ? createLogger({ level: 'trace', destination: { write: (line: string) => void lines.push(line) } })
    : createLogger({ level: given.logLevel });
  const db = createDb(given.databaseUrl, { poolMax: 5, log });
  // In sandbox mode the API serves the demo dashboard, as under `dev`.
  const sandboxRoutes = options.api && given.meta.sandbox ? await sandboxDashboard(given) : undefined;
  const api = options.api ? await startApi(given, log, { db, host: '127.0.0.1', sandboxRoutes }) : undefined;
  const config = api?.config ?? given;
  const client = await connectTemporal(config, { lazy: true });
  const worker =
    options.worker === false
      ? undefined
      : await startWorker(config, log, { db, workflowBundlePath: inject('workflowBundlePath'), reconcile: false });
  if (sandbox && api) sandbox.setWebhookUrl(`${api.url}/api/webhooks/whatsapp`);
  return {
    env,
    sandbox,
    config,
    db,
    log,
    client,
    worker,
    api,
    close: async () => {
      await sandbox?.close();
      await api?.close();
      await worker?.shutdown();
      await client.connection.close();
      await db.destroy();
      if (ownDatabaseUrl) await dropDatabase(ownDatabaseUrl);
    },
  };
}
