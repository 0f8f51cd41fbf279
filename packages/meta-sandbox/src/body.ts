// Request bodies for the sandbox's own routes: the raw bytes with a size limit, and JSON of them.
// A failure carries the HTTP status and error code the caller answers with.
import type { Context } from 'koa';
import getRawBody from 'raw-body';

export class BodyError extends Error {
  override name = 'BodyError';
  constructor(
    readonly status: 400 | 413,
    readonly code: 'bad_request' | 'invalid_json' | 'payload_too_large',
    message: string,
  ) {
    super(message);
  }
}

export async function readRawBody(ctx: Context, limitBytes: number): Promise<Buffer> {
  const tooLarge = () => new BodyError(413, 'payload_too_large', `Body larger than ${limitBytes} bytes.`);
  if (Number(ctx.get('content-length') || 0) > limitBytes) throw tooLarge();
  try {
    return await getRawBody(ctx.req, { limit: limitBytes });
  } catch (error) {
    if ((error as { type?: string }).type === 'entity.too.large') throw tooLarge();
    throw new BodyError(400, 'bad_request', 'Could not read the request body.');
  }
}

/** The body as JSON (`{}` when empty). */
export async function readJson(ctx: Context, limitBytes = 64 * 1024): Promise<unknown> {
  const raw = await readRawBody(ctx, limitBytes);
  if (raw.length === 0) return {};
  try {
    return JSON.parse(raw.toString('utf8')) as unknown;
  } catch {
    throw new BodyError(400, 'invalid_json', 'The body is not valid JSON.');
  }
}
