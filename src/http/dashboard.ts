// Sandbox mode only: a small business dashboard at / (and /dashboard/integrations, where Meta's
// callback lands), and a session endpoint that hands it a JWT for a demo business (signed with
// SANDBOX_SESSION_SECRET, never the tenant key). Neither route
// exists outside sandbox mode.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Router from '@koa/router';
import type { Context } from 'koa';
import { SignJWT } from 'jose';
import { z } from 'zod';
import type { AppDeps } from './app.js';
import { SANDBOX_SESSION_ISSUER, SANDBOX_SESSION_KID } from './auth.js';
import { readJson } from './body.js';
import { HttpError } from './errors.js';
import { parse } from './validate.js';

const assetsDir = fileURLToPath(new URL('../dashboard/', import.meta.url));
const ASSETS: Record<string, string> = {
  'dashboard.js': 'application/javascript; charset=utf-8',
  'dashboard.css': 'text/css; charset=utf-8',
};

/** The sandbox dashboard's person, as their handoffs and replies record them. */
const SANDBOX_AGENT_ID = 'sandbox-agent';

/** The Embedded Signup configuration the sandbox's popup uses when META_CONFIG_ID is unset. */
const SANDBOX_CONFIG_ID = '100000000000002';

const session = z.object({
  businessId: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, . _ - (1-64)'),
});

export interface SandboxLinks {
  sandboxUrl: string;
  temporalUiUrl: string | undefined;
}

export function dashboardRoutes(deps: AppDeps, links: SandboxLinks): Router {
  const router = new Router();
  const html = readFileSync(`${assetsDir}index.html`, 'utf8');
  const files = Object.fromEntries(
    Object.keys(ASSETS).map((name) => [name, readFileSync(`${assetsDir}${name}`, 'utf8')]),
  );
  // A key of its own: a leaked sandbox session can never pass as a tenant token.
  const sessionSecret = deps.config.auth.sandboxSessionSecret;
  if (!sessionSecret) throw new Error('the sandbox dashboard needs SANDBOX_SESSION_SECRET');
  const secret = new TextEncoder().encode(sessionSecret);

  const page = (ctx: Context) => {
    ctx.type = 'text/html; charset=utf-8';
    ctx.set('Cache-Control', 'no-store');
    // The sandbox's JS SDK stand-in (Embedded Signup popup) is the only script from another origin.
    ctx.set(
      'Content-Security-Policy',
      `default-src 'self'; script-src 'self' ${links.sandboxUrl}; connect-src 'self' ${links.sandboxUrl}; img-src 'self' data:; frame-ancestors 'none'`,
    );
    ctx.body = html;
  };
  router.get('/', page);
  router.get('/dashboard/integrations', page);
  router.get('/dashboard/assets/:name', (ctx) => {
    const type = ASSETS[ctx.params.name ?? ''];
    if (!type) throw new HttpError(404, 'not_found', 'No such asset.');
    ctx.type = type;
    ctx.body = files[ctx.params.name!];
  });

  router.post('/api/sandbox/session', async (ctx) => {
    const { businessId } = parse(session, await readJson(ctx));
    // The demo's person is the business's admin and its agent: the inbox takes conversations over.
    const token = await new SignJWT({
      [deps.config.auth.businessClaim]: businessId,
      [deps.config.auth.roleClaim]: ['admin', 'agent'],
    })
      .setProtectedHeader({ alg: 'HS256', kid: SANDBOX_SESSION_KID })
      .setIssuer(SANDBOX_SESSION_ISSUER)
      .setSubject(SANDBOX_AGENT_ID)
      .setIssuedAt()
      .setExpirationTime('8h')
      .sign(secret);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = {
      token,
      businessId,
      agentId: SANDBOX_AGENT_ID,
      sandboxUrl: links.sandboxUrl,
      temporalUiUrl: links.temporalUiUrl ?? null,
      namespace: deps.config.temporal.namespace,
      appId: deps.config.meta.appId,
      configId: deps.config.meta.configId ?? SANDBOX_CONFIG_ID,
      graphApiVersion: deps.config.meta.graphApiVersion,
    };
  });
  return router;
}
