// CORS, one rule for every route that a page on another origin calls: the dashboard's own origin
// (FRONTEND_URL) on the integration routes, the Temporal UI's on the codec endpoint.
import type { Context, Next } from 'koa';
import type { Config } from '../config.js';

export interface CorsPolicy {
  allows(origin: string): boolean;
  headers: string;
  methods: string;
  /** Whether the browser may send cookies or HTTP auth along (the Temporal UI does). */
  credentials?: boolean;
}

export function cors(policy: CorsPolicy) {
  return async (ctx: Context, next: Next): Promise<void> => {
    const origin = ctx.get('origin');
    ctx.vary('Origin');
    if (origin && policy.allows(origin)) {
      ctx.set('Access-Control-Allow-Origin', origin);
      if (policy.credentials) ctx.set('Access-Control-Allow-Credentials', 'true');
      ctx.set('Access-Control-Allow-Headers', policy.headers);
      ctx.set('Access-Control-Allow-Methods', policy.methods);
      ctx.set('Access-Control-Max-Age', '600');
    }
    if (ctx.method === 'OPTIONS') {
      ctx.status = 204;
      return;
    }
    await next();
  };
}

/**
 * A dashboard on another site calls the API with fetch and a bearer token. No cookies ride on
 * these calls, so credentials are not allowed.
 */
export function dashboardCors(config: Config) {
  const allowed = new URL(config.frontendUrl).origin;
  return cors({
    allows: (origin) => origin === allowed,
    headers: 'Authorization, Content-Type, Accept, Idempotency-Key',
    methods: 'GET, PUT, POST, DELETE, OPTIONS',
  });
}
