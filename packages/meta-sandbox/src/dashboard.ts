// The demo business dashboard the app serves in sandbox mode: a page at / (and at
// /dashboard/integrations, where Meta's callback lands), its assets, and a session endpoint that
// hands the page a JWT for a demo business. The app mounts this router; everything it needs from the
// app (how its sessions are signed, which settings the page shows) comes in as options.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Router from '@koa/router';
import type { Context } from 'koa';
import { SignJWT } from 'jose';
import { z } from 'zod';
import { BodyError, readJson } from './body.js';

const assetsDir = fileURLToPath(new URL('../dashboard/', import.meta.url));
const ASSETS: Record<string, string> = {
  'dashboard.js': 'application/javascript; charset=utf-8',
  'dashboard.css': 'text/css; charset=utf-8',
};

/** The sandbox dashboard's person, as their handoffs and replies record them. */
const SANDBOX_AGENT_ID = 'sandbox-agent';

/** The Embedded Signup configuration the sandbox's popup uses when the app names none. */
const SANDBOX_CONFIG_ID = '100000000000002';

const sessionInput = z.object({
  businessId: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, . _ - (1-64)'),
});

export interface DashboardOptions {
  /** How the app verifies a dashboard session: HS256 under a key of its own, never the tenant one. */
  session: {
    secret: string;
    issuer: string;
    kid: string;
    /** The claims the app reads the business id and the roles from, and the roles the demo's person has. */
    businessClaim: string;
    roleClaim: string;
    roles: string[];
  };
  /** What the page is told besides its token. */
  page: { namespace: string; appId: string; configId: string | undefined; graphApiVersion: string };
  links: { sandboxUrl: string; temporalUiUrl: string | undefined };
}

/** An error in the app's own shape, `{"error": {"code", "message"}}`. */
function answerError(ctx: Context, status: number, code: string, message: string): void {
  ctx.status = status;
  ctx.body = { error: { code, message } };
}

export function dashboardRoutes(options: DashboardOptions): Router {
  const { session, page: settings, links } = options;
  const router = new Router();
  const html = readFileSync(`${assetsDir}index.html`, 'utf8');
  const files = Object.fromEntries(
    Object.keys(ASSETS).map((name) => [name, readFileSync(`${assetsDir}${name}`, 'utf8')]),
  );
  if (!session.secret) throw new Error('the sandbox dashboard needs a session secret');
  const secret = new TextEncoder().encode(session.secret);

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
    if (!type) return answerError(ctx, 404, 'not_found', 'No such asset.');
    ctx.type = type;
    ctx.body = files[ctx.params.name!];
  });

  router.post('/api/sandbox/session', async (ctx) => {
    let body: unknown;
    try {
      body = await readJson(ctx);
    } catch (error) {
      if (!(error instanceof BodyError)) throw error;
      return answerError(ctx, error.status, error.code, error.message);
    }
    const parsed = sessionInput.safeParse(body);
    if (!parsed.success) return answerError(ctx, 400, 'invalid_request', z.prettifyError(parsed.error));
    const { businessId } = parsed.data;
    const token = await new SignJWT({ [session.businessClaim]: businessId, [session.roleClaim]: session.roles })
      .setProtectedHeader({ alg: 'HS256', kid: session.kid })
      .setIssuer(session.issuer)
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
      namespace: settings.namespace,
      appId: settings.appId,
      configId: settings.configId ?? SANDBOX_CONFIG_ID,
      graphApiVersion: settings.graphApiVersion,
    };
  });
  return router;
}
