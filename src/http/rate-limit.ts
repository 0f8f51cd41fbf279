// Per-business request budgets (rate-limiter-flexible, kept in PostgreSQL so every API process
// shares them). A route opts in with one middleware after `auth`: `deps.limits.connect`.
import type { Context, Next } from 'koa';
import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRes, RLWrapperTimeouts } from 'rate-limiter-flexible';
import { RATE_LIMITS, type RateLimit, type RateLimitName } from '../config.js';
import type { Db } from '../db.js';
import type { Logger } from '../logger.js';
import type { ApiMetrics } from '../metrics.js';
import { businessOf } from './auth.js';
import { rateLimited } from './errors.js';

/** The table our migration creates (the library's own layout), so the API needs no DDL rights. */
const TABLE = 'rate_limits';
/** A store that does not answer within this long is treated as down. */
const STORE_TIMEOUT_MS = 500;
/** At most one "store unavailable" warning per limit per this long. */
const WARN_EVERY_MS = 60_000;

export type RateLimitMiddleware = (ctx: Context, next: Next) => Promise<void>;
export type RateLimits = Record<RateLimitName, RateLimitMiddleware>;

interface LimitDeps {
  db: Db;
  log: Logger;
  metrics: ApiMetrics;
  rates: Record<RateLimitName, RateLimit | null>;
}

/**
 * One middleware per route group. While PostgreSQL does not answer, each process counts in memory
 * with the same budget (the library's insurance limiter): limits hold per process, requests are not
 * turned into errors by the limiter, and each fallback is counted and logged.
 */
export function createRateLimits(deps: LimitDeps): RateLimits {
  const entries = RATE_LIMITS.map((name) => [name, limitMiddleware(deps, name, deps.rates[name])] as const);
  return Object.fromEntries(entries) as RateLimits;
}

function limitMiddleware(deps: LimitDeps, name: RateLimitName, rate: RateLimit | null): RateLimitMiddleware {
  if (!rate) return (_ctx, next) => next();
  const common = { keyPrefix: name, points: rate.points, duration: rate.durationSeconds };
  let warnedAt = 0;
  class FallbackLimiter extends RateLimiterMemory {
    override consume(key: string | number, points?: number, options?: Record<string, unknown>) {
      deps.metrics.rateLimitFallbacks.inc({ limit: name });
      if (Date.now() - warnedAt > WARN_EVERY_MS) {
        warnedAt = Date.now();
        deps.log.warn({ limit: name }, 'rate limit store unavailable: counting in this process');
      }
      return super.consume(key, points, options);
    }
  }
  const limiter = new RLWrapperTimeouts({
    limiter: new RateLimiterPostgres({
      ...common,
      storeClient: deps.db,
      storeType: 'knex',
      tableName: TABLE,
      tableCreated: true,
      // A business over its budget is answered from memory until the window ends, not from PostgreSQL.
      inMemoryBlockOnConsumed: rate.points,
    }),
    timeoutMs: STORE_TIMEOUT_MS,
    insuranceLimiter: new FallbackLimiter(common),
  });
  return async (ctx, next) => {
    try {
      await limiter.consume(businessOf(ctx));
    } catch (outcome) {
      if (!(outcome instanceof RateLimiterRes)) throw outcome;
      deps.metrics.rateLimited.inc({ limit: name });
      throw rateLimited('Too many requests for this business', outcome.msBeforeNext / 1000);
    }
    await next();
  };
}
