// Dashboard authentication: `Authorization: Bearer <JWT>`, HS256 under AUTH_JWT_SECRET, `exp` and
// `iat` required (at most AUTH_JWT_MAX_AGE old), `iss`/`aud` checked when configured, the business
// id in the claim AUTH_BUSINESS_CLAIM names. Sandbox dashboard sessions carry a `kid` of their own,
// are signed with SANDBOX_SESSION_SECRET and are accepted in sandbox mode only. Every failure is 401
// `unauthorized`; a missing role is 403 `forbidden`. Roles (AUTH_ROLE_CLAIM): `agent` (a person who
// takes conversations over and replies; their sends are tagged with `sub`) and `admin`.
import { decodeProtectedHeader, errors, jwtVerify, type JWTVerifyOptions } from 'jose';
import type { Next, ParameterizedContext } from 'koa';
import type { Config } from '../config.js';
import { bearerToken, HttpError, unauthorized } from './errors.js';
import type { AppState } from './state.js';

type StateContext = Pick<ParameterizedContext<AppState>, 'state'>;

/** A fixed alphabet: no look-alikes, no NUL, no lone surrogates that map two claims onto one id. */
const BUSINESS_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;
const ROLE = /^[A-Za-z0-9_.:-]{1,64}$/;
const MAX_ROLES = 16;
/** An agent's id as it is stored and shown: printable ASCII, no spaces. */
const SUBJECT = /^[\x21-\x7e]{1,128}$/;
export const CLOCK_SKEW_SECONDS = 60;

export const SANDBOX_SESSION_KID = 'waconnect-sandbox-session';
export const SANDBOX_SESSION_ISSUER = 'waconnect-sandbox';

export type Role = 'agent' | 'admin';

export interface AuthState {
  businessId: string;
  /** The values of the AUTH_ROLE_CLAIM claim, e.g. ["agent"]. */
  roles: string[];
  /** The token's `sub`: who the person is (an agent's id), when the token names one. */
  subject: string | null;
}

function reasonFor(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'The token has expired.';
  if (error instanceof errors.JWTClaimValidationFailed) return `The token's ${error.claim} claim is not valid.`;
  if (error instanceof errors.JOSEAlgNotAllowed) return 'The token must be signed with HS256.';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'The token signature is not valid.';
  return 'The token is not valid.';
}

function rolesOf(value: unknown): string[] {
  const list = typeof value === 'string' ? [value] : Array.isArray(value) ? value : [];
  return list.filter((role): role is string => typeof role === 'string' && ROLE.test(role)).slice(0, MAX_ROLES);
}

export function requireBusiness(config: Config) {
  const tenantKey = new TextEncoder().encode(config.auth.jwtSecret);
  const sandboxSecret = config.meta.sandbox ? config.auth.sandboxSessionSecret : undefined;
  const sandboxKey = sandboxSecret ? new TextEncoder().encode(sandboxSecret) : undefined;
  const common: JWTVerifyOptions = {
    algorithms: ['HS256'],
    clockTolerance: CLOCK_SKEW_SECONDS,
    requiredClaims: ['exp', 'iat'],
    maxTokenAge: Math.floor(config.auth.maxAgeMs / 1000),
  };
  const tenant: JWTVerifyOptions = {
    ...common,
    ...(config.auth.issuer ? { issuer: config.auth.issuer } : {}),
    ...(config.auth.audience ? { audience: config.auth.audience } : {}),
  };
  const claim = config.auth.businessClaim;
  return async (ctx: ParameterizedContext<AppState>, next: Next): Promise<void> => {
    const token = bearerToken(ctx);
    if (!token) throw unauthorized();
    let payload: Record<string, unknown>;
    try {
      const sandboxSession = decodeProtectedHeader(token).kid === SANDBOX_SESSION_KID;
      if (sandboxSession && !sandboxKey) throw unauthorized('Sandbox sessions are accepted in sandbox mode only.');
      ({ payload } = sandboxSession
        ? await jwtVerify(token, sandboxKey!, { ...common, issuer: SANDBOX_SESSION_ISSUER })
        : await jwtVerify(token, tenantKey, tenant));
    } catch (error) {
      if (error instanceof HttpError) throw error;
      throw unauthorized(reasonFor(error));
    }
    const value = payload[claim];
    const businessId = typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : value;
    if (typeof businessId !== 'string' || !BUSINESS_ID.test(businessId)) {
      throw unauthorized(`The token has no usable "${claim}" claim.`);
    }
    const subject = typeof payload.sub === 'string' && SUBJECT.test(payload.sub) ? payload.sub : null;
    ctx.state.auth = { businessId, roles: rolesOf(payload[config.auth.roleClaim]), subject } satisfies AuthState;
    await next();
  };
}

/** The caller requireBusiness let through; a route that forgot requireBusiness fails closed (401). */
function authOf(ctx: StateContext): AuthState {
  if (!ctx.state.auth) throw unauthorized();
  return ctx.state.auth;
}

/** After requireBusiness: lets the request through only when the token carries one of the roles. */
export function requireRole(...roles: [Role, ...Role[]]) {
  return async (ctx: ParameterizedContext<AppState>, next: Next): Promise<void> => {
    const auth = authOf(ctx);
    if (!roles.some((role) => auth.roles.includes(role)))
      throw new HttpError(403, 'forbidden', `This needs the ${roles.join(' or ')} role.`);
    await next();
  };
}

/** The person acting: the token's `sub`, which a person's actions are recorded under. */
export function agentOf(ctx: StateContext): string {
  const subject = authOf(ctx).subject;
  if (!subject) throw new HttpError(403, 'forbidden', 'This needs a token whose sub claim names the agent.');
  return subject;
}

/** The agent whose sends these are: a token with the agent role that names its person. */
export function sendingAgentOf(ctx: StateContext): string | null {
  const auth = authOf(ctx);
  return auth.roles.includes('agent') && auth.subject ? auth.subject : null;
}

export function businessOf(ctx: StateContext): string {
  return authOf(ctx).businessId;
}
