// Errors the HTTP layer answers with, and the one middleware that turns any error into
// {"error": {"code", "message"}}. Unknown errors become a generic 500 and are logged, never echoed.
import type { Context, Next } from 'koa';

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

export const unauthorized = (message = 'A valid bearer token is required.') =>
  new HttpError(401, 'unauthorized', message, { 'WWW-Authenticate': 'Bearer' });

export function errorBody(code: string, message: string) {
  return { error: { code, message } };
}

export async function errorMiddleware(ctx: Context, next: Next): Promise<void> {
  try {
    await next();
    if (ctx.status === 404 && ctx.body === undefined) {
      ctx.status = 404;
      ctx.body = errorBody('not_found', 'No such route.');
    }
  } catch (error) {
    if (error instanceof HttpError) {
      ctx.status = error.status;
      ctx.set(error.headers);
      ctx.body = errorBody(error.code, error.message);
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
