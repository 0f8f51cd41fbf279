// Errors the HTTP layer answers with, and the one middleware that turns any error into
// {"error": {"code", "message"}}. Unknown errors become a generic 500 and are logged, never echoed.
import { isGrpcServiceError, ServiceError } from '@temporalio/client';
import type { Context, Next } from 'koa';
import { DomainError, type DomainErrorKind } from '../errors.js';
import { isMissingSearchAttribute } from '../temporal/search-attributes.js';

export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** The token of an `Authorization: Bearer <token>` header, the one parser for every route. */
export function bearerToken(ctx: Context): string | undefined {
  return /^Bearer\s+(\S+)$/i.exec(ctx.get('authorization'))?.[1];
}

export const unauthorized = (message = 'A valid bearer token is required.') =>
  new HttpError(401, 'unauthorized', message, { 'WWW-Authenticate': 'Bearer' });

/** 429 `rate_limited`, telling the client when to come back. */
export const rateLimited = (what: string, retryAfterSeconds: number) => {
  const seconds = Math.max(1, Math.ceil(retryAfterSeconds));
  return new HttpError(429, 'rate_limited', `${what}; try again in ${seconds} s.`, { 'Retry-After': String(seconds) });
};

/** The one status each kind of domain refusal is answered with. */
const DOMAIN_STATUS: Record<DomainErrorKind, number> = {
  invalid: 400,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  rate_limited: 429,
  unavailable: 503,
  upstream_refused: 502,
};

export function statusOf(error: DomainError): number {
  return DOMAIN_STATUS[error.kind];
}

/** A domain refusal as the HTTP layer answers it: its kind's status, Retry-After when it says when. */
function httpErrorOf(error: DomainError): HttpError {
  const headers: Record<string, string> =
    error.retryAfterSeconds === undefined ? {} : { 'Retry-After': String(error.retryAfterSeconds) };
  return new HttpError(statusOf(error), error.code, error.message, headers);
}

function errorBody(code: string, message: string) {
  return { error: { code, message } };
}

export async function errorMiddleware(ctx: Context, next: Next): Promise<void> {
  try {
    await next();
    if (ctx.status === 404 && ctx.body === undefined) {
      ctx.status = 404;
      ctx.body = errorBody('not_found', 'No such route.');
    }
  } catch (caught) {
    const error = caught instanceof DomainError ? httpErrorOf(caught) : caught;
    if (error instanceof HttpError) {
      ctx.status = error.status;
      ctx.set(error.headers);
      ctx.body = errorBody(error.code, error.message);
      return;
    }
    if (isMissingSearchAttribute(error)) {
      // An operator's step is missing (npm run migrate); the request itself was fine.
      ctx.state.log?.error(
        { err: (error as Error).message },
        'Temporal namespace lacks search attributes: run migrate',
      );
      ctx.status = 503;
      ctx.set('Retry-After', '30');
      ctx.body = errorBody('temporal_not_ready', 'The workflow service is not set up yet; try again later.');
      return;
    }
    if (isTemporalUnavailable(error)) {
      ctx.state.log?.warn({ err: (error as Error).message }, 'Temporal unavailable');
      ctx.status = 503;
      ctx.set('Retry-After', '5');
      ctx.body = errorBody('temporal_unavailable', 'The workflow service is unavailable; try again shortly.');
      return;
    }
    // Errors raised by Koa's own body handling (413, 415, 400) carry an `expose`d status.
    const status = (error as { status?: number; expose?: boolean }).status;
    if (status && status >= 400 && status < 500 && (error as { expose?: boolean }).expose) {
      ctx.status = status;
      ctx.body = errorBody(status === 413 ? 'payload_too_large' : 'bad_request', (error as Error).message);
      return;
    }
    ctx.state.log?.error({ err: error }, 'unhandled error');
    ctx.status = 500;
    ctx.body = errorBody('internal_error', 'Something went wrong on our side.');
  }
}

/** gRPC UNAVAILABLE (14) or DEADLINE_EXCEEDED (4), or a client that could not connect at all. */
function isTemporalUnavailable(error: unknown): boolean {
  const cause = error instanceof ServiceError ? error.cause : error;
  if (isGrpcServiceError(cause)) return cause.code === 14 || cause.code === 4;
  if (error instanceof ServiceError) return true;
  return error instanceof Error && /Failed to connect before the deadline/.test(error.message);
}
