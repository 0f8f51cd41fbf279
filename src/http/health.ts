// GET /healthz: the process is alive. GET /readyz: PostgreSQL and Temporal both answer.
import Router from '@koa/router';
import type { AppDeps } from './app.js';

const CHECK_TIMEOUT_MS = 2_000;

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    promise.then(
      (value) => (clearTimeout(timer), resolve(value)),
      (error: unknown) => (clearTimeout(timer), reject(error)),
    );
  });
}

export function healthRoutes({ db, temporal }: AppDeps): Router {
  const router = new Router();
  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    const [postgres, temporalCheck] = await Promise.allSettled([
      withTimeout(db.raw('SELECT 1'), CHECK_TIMEOUT_MS),
      withTimeout(
        temporal.connection.withDeadline(Date.now() + CHECK_TIMEOUT_MS, () =>
          temporal.connection.workflowService.getSystemInfo({}),
        ),
        CHECK_TIMEOUT_MS + 500,
      ),
    ]);
    const checks = {
      postgres: postgres.status === 'fulfilled' ? 'ok' : 'unreachable',
      temporal: temporalCheck.status === 'fulfilled' ? 'ok' : 'unreachable',
    };
    const ready = checks.postgres === 'ok' && checks.temporal === 'ok';
    ctx.status = ready ? 200 : 503;
    ctx.body = { status: ready ? 'ready' : 'not_ready', checks };
  });
  return router;
}
