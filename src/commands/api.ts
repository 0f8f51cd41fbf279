// `api`: the Koa HTTP server.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Router from '@koa/router';
import { listeningAt, type Config } from '../config.js';
import { createDb, type Db } from '../db.js';
import { createApp } from '../http/app.js';
import { ByteBudget } from '../http/body.js';
import { createRateLimits } from '../http/rate-limit.js';
import { createMetricsApp } from '../http/metrics.js';
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
  /** The configuration as the API runs it: with PORT=0, the URLs left unset name the port it got. */
  config: Config;
  server: Server;
  /** The internal metrics server's URL, when METRICS_PORT is set. */
  metricsUrl: string | undefined;
  /** Stops accepting, lets in-flight requests finish, closes the pools. */
  close(): Promise<void>;
}

export interface ApiOptions {
  db?: Db;
  host?: string;
  requestTimeoutMs?: number;
  /** Extra routes of sandbox mode (the demo dashboard), from `dev` or the tests. */
  sandboxRoutes?: Router;
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}

export async function startApi(given: Config, log: Logger, options: ApiOptions = {}): Promise<RunningApi> {
  const db = options.db ?? createDb(given.databaseUrl, { log });
  // Lazy: the API starts and answers /readyz 503 while Temporal is down, and reconnects by itself.
  const temporal = await connectTemporal(given, { lazy: true });
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
  const webhookBudget = new ByteBudget(given.limits.webhookBytesInFlight, (bytes) =>
    metrics.webhookBytesInFlight.set(bytes),
  );
  const limits = createRateLimits({ db, log, metrics, rates: given.limits.rates });
  let stopping = false;
  // The socket is bound first, so that with PORT=0 the app is built knowing its own address.
  let handler: ((req: IncomingMessage, res: ServerResponse) => Promise<void>) | undefined;
  // A client gets requestTimeout to send its whole request (headers within headersTimeout); slow
  // ones get 408. Checked every second (Node's default is 30 s), so the timeouts hold to about a second.
  const requestTimeout = options.requestTimeoutMs ?? given.limits.requestTimeoutMs;
  const headersTimeout = Math.min(requestTimeout, given.limits.headersTimeoutMs);
  const timeouts = { requestTimeout, headersTimeout, connectionsCheckingInterval: 1000 };
  const server = createServer(timeouts, (req, res) => {
    // While stopping, answer in-flight work and let keep-alive connections go.
    if (stopping) res.setHeader('Connection', 'close');
    if (handler) void handler(req, res);
    else res.writeHead(503, { 'Retry-After': '1' }).end();
  });
  server.keepAliveTimeout = 65_000;
  const listenHost = options.host ?? given.host;
  const port = await listen(server, given.port, listenHost);
  const host = listenHost !== '0.0.0.0' && listenHost !== '::' ? listenHost : 'localhost';
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const config = listeningAt(given, url, port);
  const { sandboxRoutes } = options;
  handler = createApp({ config, db, log, temporal, metrics, webhookBudget, limits, sandboxRoutes }).callback();
  log.info({ url }, 'api listening');
  let metricsServer: Server | undefined;
  let metricsUrl: string | undefined;
  if (config.metrics.port !== undefined) {
    const metricsHandler = createMetricsApp(metrics).callback();
    metricsServer = createServer(timeouts, (req, res) => void metricsHandler(req, res));
    const metricsPort = await listen(metricsServer, config.metrics.port, config.metrics.host);
    const metricsHost = config.metrics.host.includes(':') ? `[${config.metrics.host}]` : config.metrics.host;
    metricsUrl = `http://${metricsHost}:${metricsPort}`;
    log.info({ url: metricsUrl }, 'metrics listening');
  }
  return {
    url,
    config,
    server,
    metricsUrl,
    close: async () => {
      stopping = true;
      if (metricsServer) {
        metricsServer.close();
        metricsServer.closeAllConnections();
      }
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
