// Dashboard authentication: `Authorization: Bearer <JWT>`, HS256 under AUTH_JWT_SECRET, the business
// id in the claim AUTH_BUSINESS_CLAIM names. Every failure is 401 `unauthorized`.
import { errors, jwtVerify } from 'jose';
import type { Context, Next } from 'koa';
import type { Config } from '../config.js';
import { unauthorized } from './errors.js';

const MAX_BUSINESS_ID_LENGTH = 128;

export interface AuthState {
  businessId: string;
}

function reasonFor(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'The token has expired.';
  if (error instanceof errors.JWTClaimValidationFailed) return `The token's ${error.claim} claim is not valid.`;
  if (error instanceof errors.JOSEAlgNotAllowed) return 'The token must be signed with HS256.';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'The token signature is not valid.';
  return 'The token is not valid.';
}

export function requireBusiness(config: Config) {
  const secret = new TextEncoder().encode(config.auth.jwtSecret);
  const claim = config.auth.businessClaim;
  return async (ctx: Context, next: Next): Promise<void> => {
    const header = ctx.get('authorization');
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) throw unauthorized();
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(match[1]!, secret, { algorithms: ['HS256'], clockTolerance: 5 }));
    } catch (error) {
      throw unauthorized(reasonFor(error));
    }
    const value = payload[claim];
    const businessId = typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : value;
    if (typeof businessId !== 'string' || businessId.length === 0 || businessId.length > MAX_BUSINESS_ID_LENGTH) {
      throw unauthorized(`The token has no usable "${claim}" claim.`);
    }
    ctx.state.auth = { businessId } satisfies AuthState;
    await next();
  };
}

export function businessOf(ctx: Context): string {
  return (ctx.state.auth as AuthState).businessId;
}
