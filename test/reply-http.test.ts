// The HTTP responder reads the brain's answer with a size limit.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpResponder, MAX_ANSWER_BYTES, ReplyServiceError } from '../src/reply/http.js';

describe('HTTP responder answers', () => {
  let brain: Server;
  let url: string;
  let answer: (res: import('node:http').ServerResponse) => void = (res) => res.end('{"reply":null}');
  beforeAll(async () => {
    brain = createServer((req, res) => {
      req.resume();
      req.on('end', () => answer(res));
    });
    await new Promise<void>((resolve) => brain.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(brain.address() as AddressInfo).port}/reply`;
  });
  afterAll(() => {
    brain.closeAllConnections();
    brain.close();
  });

  const request = {
    businessId: 'b',
    integrationId: 'i',
    phoneNumberId: 'p',
    from: 'f',
    messageId: 'm',
    type: 'text',
    text: 'hi',
    timestamp: '1',
  };
  const ask = () => new HttpResponder(url, 'secret', 2_000).reply(request as never);

  it('takes an answer within the limit', async () => {
    answer = (res) => res.end(JSON.stringify({ reply: { type: 'text', text: 'x'.repeat(4000) } }));
    expect(await ask()).toEqual({ type: 'text', text: 'x'.repeat(4000) });
  });

  it('refuses, without retrying, an answer larger than 64 KiB, announced or streamed', async () => {
    answer = (res) =>
      res.setHeader('content-length', String(MAX_ANSWER_BYTES + 1)).end('x'.repeat(MAX_ANSWER_BYTES + 1));
    await expect(ask()).rejects.toMatchObject({ name: 'ReplyServiceError', retryable: false });
    // Chunked, with no length: stops reading once past the limit.
    answer = (res) => {
      const chunk = 'x'.repeat(16 * 1024);
      const timer = setInterval(() => (res.destroyed ? clearInterval(timer) : res.write(chunk)), 1);
    };
    const error = await ask().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReplyServiceError);
    expect((error as ReplyServiceError).message).toContain('more than 65536 bytes');
  });
});
