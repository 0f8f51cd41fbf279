// The HTTP responder: POSTs the message to the business's "AI brain" (REPLY_WEBHOOK_URL), signed,
// and sends back what it answers (version 1, or version 2 when the integration opts in). Timeouts
// and 5xx are retryable; a malformed answer is not.
import { createHmac } from 'node:crypto';
import { z } from 'zod';
import { brainAnswerV2, type Answer, type BrainRequestV2 } from './contract-v2.js';
import { MAX_REPLY_LENGTH, type Reply, type ReplyRequest, type Responder } from './responder.js';

const REPLY_SIGNATURE_HEADER = 'x-waconnect-signature-256';
/** A reply is at most 4096 characters of text: anything much larger is not an answer. */
export const MAX_ANSWER_BYTES = 64 * 1024;

export class ReplyServiceError extends Error {
  override name = 'ReplyServiceError';
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

const answer = z.object({
  reply: z.object({ type: z.literal('text'), text: z.string().min(1).max(MAX_REPLY_LENGTH) }).nullable(),
});

export function signReplyRequest(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export class HttpResponder implements Responder {
  readonly name = 'http';

  constructor(
    private readonly url: string,
    private readonly secret: string,
    private readonly timeoutMs = 10_000,
  ) {}

  async reply(request: ReplyRequest): Promise<Reply | null> {
    const parsed = answer.safeParse(await this.post(request));
    if (!parsed.success)
      throw new ReplyServiceError('reply service answered something other than {"reply": {...} | null}', false);
    return parsed.data.reply;
  }

  /** Version 2: the answer's messages (in order) and handoff; a malformed answer says what is wrong. */
  async answer(request: BrainRequestV2): Promise<Answer> {
    const parsed = brainAnswerV2.safeParse(await this.post(request));
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue?.path.length ? ` at ${issue.path.join('.')}` : '';
      throw new ReplyServiceError(
        `reply service answered an invalid version 2 answer${where}: ${issue?.message}`,
        false,
      );
    }
    return { messages: parsed.data.messages, handoff: parsed.data.handoff };
  }

  /** Posts the request, signed, and answers its JSON (undefined when it is not JSON). */
  private async post(request: object): Promise<unknown> {
    const body = JSON.stringify(request);
    let response: Response;
    try {
      response = await fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [REPLY_SIGNATURE_HEADER]: signReplyRequest(body, this.secret) },
        body,
        signal: AbortSignal.timeout(this.timeoutMs),
        redirect: 'error',
      });
    } catch (error) {
      const reason =
        (error as { name?: string }).name === 'TimeoutError'
          ? `no answer within ${this.timeoutMs} ms`
          : 'could not reach it';
      throw new ReplyServiceError(`reply service: ${reason}`, true);
    }
    if (!response.ok) {
      await response.body?.cancel();
      // 4xx other than 408/429 means the service refuses this message: retrying will not help.
      const retryable = response.status >= 500 || response.status === 408 || response.status === 429;
      throw new ReplyServiceError(`reply service answered HTTP ${response.status}`, retryable);
    }
    const text = await readLimited(response, MAX_ANSWER_BYTES);
    if (text === undefined) {
      throw new ReplyServiceError(`reply service answered more than ${MAX_ANSWER_BYTES} bytes`, false);
    }
    try {
      return JSON.parse(text);
    } catch {
      return undefined;
    }
  }
}

/** The body as text, or undefined (and the rest left unread) once it passes `limit` bytes. */
async function readLimited(response: Response, limit: number): Promise<string | undefined> {
  if (Number(response.headers.get('content-length') ?? 0) > limit) {
    await response.body?.cancel();
    return undefined;
  }
  if (!response.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
