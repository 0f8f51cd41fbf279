// GET /healthz: the process is alive. GET /readyz: PostgreSQL answers and the Temporal namespace
// answers with every search attribute the code sets.
import Router from '@koa/router';
import type { Context, Next } from 'koa';
import { ping } from '../db.js';
import { cachedTemporalCheck, checkTemporal } from '../services/readiness.js';
import type { AppDeps } from './app.js';
import { HttpError } from './errors.js';
import type { AppState } from './state.js';

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

export function healthRoutes({ db, temporal }: AppDeps): Router<AppState> {
  const router = new Router<AppState>();
  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    const [postgres, temporalCheck] = await Promise.all([
      withTimeout(ping(db), CHECK_TIMEOUT_MS).then(
        () => 'ok' as const,
        () => 'unreachable' as const,
      ),
      withTimeout(checkTemporal(temporal), CHECK_TIMEOUT_MS + 500).catch(() => ({ state: 'unreachable' as const })),
    ]);
    const checks = { postgres, temporal: temporalCheck.state };
    const ready = postgres === 'ok' && temporalCheck.state === 'ok';
    ctx.status = ready ? 200 : 503;
    ctx.body = {
      status: ready ? 'ready' : 'not_ready',
      checks,
      ...(temporalCheck.state === 'missing_search_attributes'
        ? { missingSearchAttributes: temporalCheck.missing, fix: 'run `npm run migrate` (it registers them)' }
        : {}),
    };
  });
  return router;
}

/**
 * Before a route sends a person to Meta's dialog: refuse at once (503) when the namespace cannot
 * take the workflow that the dialog's answer will start.
 */
export function requireTemporalReady({ temporal }: Pick<AppDeps, 'temporal'>) {
  const check = cachedTemporalCheck(temporal);
  return async (ctx: Context, next: Next): Promise<void> => {
    const readiness = await check();
    if (readiness.state === 'missing_search_attributes') {
      ctx.state.log?.error({ missing: readiness.missing }, 'Temporal namespace lacks search attributes: run migrate');
      throw new HttpError(503, 'temporal_not_ready', 'The workflow service is not set up yet; try again later.', {
        'Retry-After': '30',
      });
    }
    await next();
  };
}
