// Request bodies: read the raw bytes once, with a size limit, before anything parses them
// (the webhook signature is computed over the exact bytes Meta sent).
import type { Context } from 'koa';
import getRawBody from 'raw-body';
import { HttpError } from './errors.js';

export async function readRawBody(ctx: Context, limitBytes: number): Promise<Buffer> {
  const declared = Number(ctx.get('content-length') || 0);
  if (declared > limitBytes) throw new HttpError(413, 'payload_too_large', `Body larger than ${limitBytes} bytes.`);
  try {
    return await getRawBody(ctx.req, { limit: limitBytes });
  } catch (error) {
    const type = (error as { type?: string }).type;
    if (type === 'entity.too.large')
      throw new HttpError(413, 'payload_too_large', `Body larger than ${limitBytes} bytes.`);
    if (type === 'request.aborted') throw new HttpError(400, 'bad_request', 'Request aborted.');
    throw new HttpError(400, 'bad_request', 'Could not read the request body.');
  }
}

/** Deeper than any real payload; deeper would later overflow the stack of code that walks it. */
const MAX_JSON_DEPTH = 64;

/** Parses JSON, answering 400 `invalid_json` when it is not, or nests deeper than MAX_JSON_DEPTH. */
export function parseJson(raw: Buffer): unknown {
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new HttpError(400, 'invalid_json', 'The body is not valid JSON.');
  }
  if (depthExceeds(value, MAX_JSON_DEPTH))
    throw new HttpError(400, 'invalid_json', `The body nests deeper than ${MAX_JSON_DEPTH} levels.`);
  return value;
}

/** Iterative (no recursion), so a hostile body cannot overflow the stack here either. */
function depthExceeds(root: unknown, limit: number): boolean {
  const stack: Array<[unknown, number]> = [[root, 1]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!;
    if (value === null || typeof value !== 'object') continue;
    if (depth > limit) return true;
    for (const child of Array.isArray(value) ? value : Object.values(value)) stack.push([child, depth + 1]);
  }
  return false;
}

export async function readJson(ctx: Context, limitBytes = 64 * 1024): Promise<unknown> {
  const raw = await readRawBody(ctx, limitBytes);
  return raw.length === 0 ? {} : parseJson(raw);
}
