// Request bodies: read the raw bytes once, with a size limit, before anything parses them
// (the webhook signature is computed over the exact bytes Meta sent).
import type { IncomingMessage } from 'node:http';
import type { Context } from 'koa';
import getRawBody from 'raw-body';
import { HttpError } from './errors.js';

/** Seconds a client told "overloaded" should wait; Meta redelivers a webhook on its own schedule. */
const OVERLOADED_RETRY_AFTER = '5';

const tooLarge = (limitBytes: number) =>
  new HttpError(413, 'payload_too_large', `Body larger than ${limitBytes} bytes.`);

const overloaded = () =>
  new HttpError(503, 'overloaded', 'Too many request bodies are being read right now; try again shortly.', {
    'Retry-After': OVERLOADED_RETRY_AFTER,
    Connection: 'close',
  });

/**
 * Body bytes this process holds at once, across requests: each request takes its bytes as they
 * arrive and gives them back when it has finished with the body, so memory for bodies stays
 * bounded however many clients send at once (a slow one holds only what it has sent).
 */
export class ByteBudget {
  private used = 0;
  constructor(
    readonly capacity: number,
    private readonly onChange: (bytesInUse: number) => void = () => undefined,
  ) {}

  get inUse(): number {
    return this.used;
  }

  fits(bytes: number): boolean {
    return this.used + bytes <= this.capacity;
  }

  /** A request's share: take() as bytes arrive, release() once when the request is done. */
  lease(): { take(bytes: number): boolean; release(): void } {
    let held = 0;
    return {
      take: (bytes) => {
        if (!this.fits(bytes)) return false;
        this.used += bytes;
        held += bytes;
        this.onChange(this.used);
        return true;
      },
      release: () => {
        this.used -= held;
        held = 0;
        this.onChange(this.used);
      },
    };
  }
}

export type BodyLease = ReturnType<ByteBudget['lease']>;

/**
 * Reads the body under a budget, as the chunks it arrived in: a declared length that cannot fit now
 * is refused before a byte is read (503), and a body whose next chunk would overflow the budget
 * stops being read there (503).
 */
export async function readBudgetedBody(
  ctx: Context,
  limitBytes: number,
  budget: ByteBudget,
  lease: BodyLease,
): Promise<Buffer[]> {
  const declared = Number(ctx.get('content-length') || 0);
  if (declared > limitBytes) throw tooLarge(limitBytes);
  if (!budget.fits(declared)) throw overloaded();
  return readChunks(ctx.req, limitBytes, lease);
}

function readChunks(req: IncomingMessage, limitBytes: number, lease: BodyLease): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const settle = (error: HttpError | undefined) => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onAborted);
      req.off('close', onClose);
      if (error) {
        // Stop reading: the answer goes out with Connection: close and the rest is never buffered.
        req.pause();
        chunks.length = 0;
        reject(error);
      } else resolve(chunks);
    };
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > limitBytes) return settle(tooLarge(limitBytes));
      if (!lease.take(chunk.length)) return settle(overloaded());
      chunks.push(chunk);
    };
    const onEnd = () => settle(undefined);
    const onAborted = () => settle(new HttpError(400, 'bad_request', 'Request aborted.'));
    const onClose = () => {
      if (!req.complete) onAborted();
    };
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onAborted);
    req.once('close', onClose);
  });
}

export async function readRawBody(ctx: Context, limitBytes: number): Promise<Buffer> {
  const declared = Number(ctx.get('content-length') || 0);
  if (declared > limitBytes) throw tooLarge(limitBytes);
  try {
    return await getRawBody(ctx.req, { limit: limitBytes });
  } catch (error) {
    const type = (error as { type?: string }).type;
    if (type === 'entity.too.large') throw tooLarge(limitBytes);
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
