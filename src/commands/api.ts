// `api`: the Koa HTTP server.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../config.js';
import { createDb, type Db } from '../db.js';
import { createApp } from '../http/app.js';
import type { Logger } from '../logger.js';
import { ApiMetrics } from '../metrics.js';
import { integrationsByHealth } from '../store/integrations.js';
import { outboxStats, rejectedByReason } from '../store/outbox.js';
import { lineStats } from '../store/turns.js';
import { connectTemporal } from '../temporal/client.js';

/** How long in-flight requests may take to finish after SIGTERM. */
const SHUTDOWN_GRACE_MS = 25_000;

export interface RunningApi {
  url: string;
  server: Server;
  /** Stops accepting, lets in-flight requests finish, closes the pools. */
  close(): Promise<void>;
}

export async function startApi(config: Config, log: Logger, options: { db?: Db; host?: string } = {}): Promise<RunningApi> {
  const db = options.db ?? createDb(config.databaseUrl, { log });
  // Lazy: the API starts and answers /readyz 503 while Temporal is down, and reconnects by itself.
  const temporal = await connectTemporal(config, { lazy: true });
  const metrics = new ApiMetrics(
    () => integrationsByHealth(db),
    async () => {
      const [outbox, line, rejectedItems] = await Promise.all([outboxStats(db), lineStats(db), rejectedByReason(db)]);
      return {
        unstartedStarts: outbox.unstarted,
        oldestUnstartedStartSeconds: outbox.oldestUnstartedAgeSeconds,
        waitingTurns: line.waitingTurns,
        oldestHeadWaitSeconds: line.oldestHeadWaitSeconds,
        rejectedItems,
      };
    },
  );
  const app = createApp({ config, db, log, temporal, metrics });
  let stopping = false;
  const handler = app.callback();
  const server = createServer((req, res) => {
    // While stopping, answer in-flight work and let keep-alive connections go.
    if (stopping) res.setHeader('Connection', 'close');
    void handler(req, res);
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, options.host ?? '0.0.0.0', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host && options.host !== '0.0.0.0' ? options.host : 'localhost';
  const url = `http://${host}:${port}`;
  log.info({ url }, 'api listening');
  return {
    url,
    server,
    close: async () => {
      stopping = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      // Requests still running after the grace period are cut off.
      const force = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
      const idle = setInterval(() => server.closeIdleConnections(), 200);
      await closed;
      clearTimeout(force);
      clearInterval(idle);
      await temporal.connection.close();
      if (!options.db) await db.destroy();
    },
  };
}
