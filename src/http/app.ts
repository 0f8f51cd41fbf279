// The Koa application: request ids and logging, error mapping, then one router per resource.
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import Koa from 'koa';
import type { Config } from '../config.js';
import type { Db } from '../db.js';
import type { Logger } from '../logger.js';
import { errorMiddleware } from './errors.js';
import { healthRoutes } from './health.js';
import { integrationRoutes } from './integrations.js';
import { webhookRoutes } from './webhooks.js';

export interface AppDeps {
  config: Config;
  db: Db;
  log: Logger;
  temporal: Client;
}

export function createApp(deps: AppDeps): Koa {
  const app = new Koa({ proxy: true });
  app.silent = true;
  app.use(async (ctx, next) => {
    const requestId = ctx.get('x-request-id') || randomUUID();
    ctx.set('X-Request-Id', requestId);
    ctx.state.log = deps.log.child({ requestId });
    const started = performance.now();
    await next();
    ctx.state.log.debug({ method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round(performance.now() - started) }, 'request');
  });
  app.use(errorMiddleware);
  for (const router of [healthRoutes(deps), integrationRoutes(deps), webhookRoutes(deps)]) {
    app.use(router.routes()).use(router.allowedMethods());
  }
  return app;
}
