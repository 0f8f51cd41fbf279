// A stand-in for the business's HTTP responder ("AI brain") on a free port: each request's JSON body
// goes to `answer`, which replies when it likes (now, after a delay, or when the test lets it go).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface BrainReply {
  reply: { type: 'text'; text: string } | null;
}

export interface RunningBrain {
  /** REPLY_WEBHOOK_URL for the stack. */
  url: string;
  close(): Promise<void>;
}

export async function startBrain<Body = Record<string, unknown>>(
  answer: (body: Body, respond: (reply: BrainReply) => void) => void,
): Promise<RunningBrain> {
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      answer(JSON.parse(Buffer.concat(chunks).toString()) as Body, (reply) => {
        if (res.destroyed) return;
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(reply));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/reply`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
