// CORS for the dashboard's own origin (FRONTEND_URL): a dashboard on another site calls the API
// with fetch and a bearer token. No cookies ride on these calls, so credentials are not allowed.
import type { Context, Next } from 'koa';
import type { Config } from '../config.js';

export function dashboardCors(config: Config) {
  const allowed = new URL(config.frontendUrl).origin;
  return async (ctx: Context, next: Next): Promise<void> => {
    const origin = ctx.get('origin');
    ctx.vary('Origin');
    if (origin === allowed) {
      ctx.set('Access-Control-Allow-Origin', origin);
      ctx.set('Access-Control-Allow-Headers', 'Authorization, Content-Type, Accept');
      ctx.set('Access-Control-Allow-Methods', 'GET, PUT, POST, DELETE, OPTIONS');
      ctx.set('Access-Control-Max-Age', '600');
    }
    if (ctx.method === 'OPTIONS') {
      ctx.status = 204;
      return;
    }
    await next();
  };
}
