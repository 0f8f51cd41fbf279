// The Koa application: request ids and logging, error mapping, then one router per resource.
import { randomUUID } from 'node:crypto';
import type Router from '@koa/router';
import type { Client } from '@temporalio/client';
import Koa from 'koa';
import type { Config } from '../config.js';
import type { Db } from '../db.js';
import type { Logger } from '../logger.js';
import type { ApiMetrics } from '../metrics.js';
import type { ByteBudget } from './body.js';
import { errorMiddleware } from './errors.js';
import type { RateLimits } from './rate-limit.js';
import { codecRoutes } from './codec.js';
import { conversationRoutes } from './conversations.js';
import { erasureRoutes } from './erasures.js';
import { healthRoutes } from './health.js';
import { integrationRoutes } from './integrations.js';
import { mediaRoutes } from './media.js';
import { numberRoutes } from './numbers.js';
import { templateRoutes } from './templates.js';
import { outboundMessageRoutes } from './messages-out.js';
import { metricsRoutes } from './metrics.js';
import type { AppState } from './state.js';
import { webhookRoutes } from './webhooks.js';

export interface AppDeps {
  config: Config;
  db: Db;
  log: Logger;
  temporal: Client;
  metrics: ApiMetrics;
  /** Bytes of webhook bodies this process may hold at once. */
  webhookBudget: ByteBudget;
  /** Per-business rate limits, one middleware per route group (after `auth`). */
  limits: RateLimits;
  /** The sandbox's demo dashboard and its session endpoint: `dev` and the tests pass it in sandbox mode. */
  sandboxRoutes?: Router;
}

const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

export function createApp(deps: AppDeps): Koa<AppState> {
  const app = new Koa<AppState>({ proxy: true });
  app.silent = true;
  app.use(async (ctx, next) => {
    // A caller's id only when it is a plain token: it goes into every log line of the request.
    const given = ctx.get('x-request-id');
    const requestId = REQUEST_ID.test(given) ? given : randomUUID();
    ctx.set('X-Request-Id', requestId);
    ctx.state.log = deps.log.child({ requestId });
    const started = performance.now();
    try {
      await next();
    } finally {
      const seconds = (performance.now() - started) / 1000;
      // The route pattern, never the raw path: no ids or secrets in label values.
      const route = (ctx as { _matchedRoute?: string })._matchedRoute ?? 'unmatched';
      deps.metrics.httpRequests.inc({ route, method: ctx.method, status: String(ctx.status) });
      deps.metrics.httpDuration.observe({ route, method: ctx.method }, seconds);
      ctx.state.log.debug({ method: ctx.method, route, status: ctx.status, ms: Math.round(seconds * 1000) }, 'request');
    }
  });
  app.use(errorMiddleware);
  const routers = [
    healthRoutes(deps),
    metricsRoutes(deps),
    integrationRoutes(deps),
    numberRoutes(deps),
    templateRoutes(deps),
    outboundMessageRoutes(deps),
    ...erasureRoutes(deps),
    conversationRoutes(deps),
    ...mediaRoutes(deps),
    webhookRoutes(deps),
    codecRoutes(deps),
  ];
  if (deps.sandboxRoutes) routers.push(deps.sandboxRoutes);
  for (const router of routers) {
    app.use(router.routes()).use(router.allowedMethods());
  }
  return app;
}
