// GET /metrics (Prometheus text). Never open on the public port: there it needs
// `Authorization: Bearer <METRICS_AUTH_TOKEN>` (and does not exist without one); METRICS_PORT serves
// it on a small internal server of its own, bound to METRICS_HOST (127.0.0.1 by default).
import Router from '@koa/router';
import Koa, { type Context } from 'koa';
import { constantTimeEqual } from '../crypto.js';
import type { ApiMetrics } from '../metrics.js';
import type { AppDeps } from './app.js';
import { bearerToken, errorMiddleware, unauthorized } from './errors.js';
import type { AppState } from './state.js';

async function answer(ctx: Context, metrics: ApiMetrics): Promise<void> {
  ctx.type = metrics.registry.contentType;
  ctx.set('Cache-Control', 'no-store');
  ctx.body = await metrics.registry.metrics();
}

/** On the public app: only behind METRICS_AUTH_TOKEN. */
export function metricsRoutes({ config, metrics }: AppDeps): Router<AppState> {
  const router = new Router<AppState>();
  const token = config.metrics.authToken;
  if (!token) return router;
  router.get('/metrics', async (ctx) => {
    const given = bearerToken(ctx);
    if (!given || !constantTimeEqual(given, token)) throw unauthorized('The metrics token is required.');
    await answer(ctx, metrics);
  });
  return router;
}

/** The internal metrics server's app: /metrics and nothing else. */
export function createMetricsApp(metrics: ApiMetrics): Koa {
  const app = new Koa();
  app.silent = true;
  app.use(errorMiddleware);
  app.use(async (ctx, next) => {
    if (ctx.method === 'GET' && ctx.path === '/metrics') return answer(ctx, metrics);
    await next();
  });
  return app;
}
