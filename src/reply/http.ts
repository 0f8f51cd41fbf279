// The HTTP responder: POSTs the message to the business's "AI brain" (REPLY_WEBHOOK_URL), signed,
// and sends back what it answers. Timeouts and 5xx are retryable; a malformed answer is not.
import { createHmac } from 'node:crypto';
import { z } from 'zod';
import { MAX_REPLY_LENGTH, type Reply, type ReplyRequest, type Responder } from './responder.js';

const REPLY_SIGNATURE_HEADER = 'x-waconnect-signature-256';

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
      const reason = (error as { name?: string }).name === 'TimeoutError' ? `no answer within ${this.timeoutMs} ms` : 'could not reach it';
      throw new ReplyServiceError(`reply service: ${reason}`, true);
    }
    if (!response.ok) {
      await response.body?.cancel();
      // 4xx other than 408/429 means the service refuses this message: retrying will not help.
      const retryable = response.status >= 500 || response.status === 408 || response.status === 429;
      throw new ReplyServiceError(`reply service answered HTTP ${response.status}`, retryable);
    }
    const parsed = answer.safeParse(await response.json().catch(() => undefined));
    if (!parsed.success) throw new ReplyServiceError('reply service answered something other than {"reply": {...} | null}', false);
    return parsed.data.reply;
  }
}
