// The load balancer in front of the API processes, as a real deployment has one (compose uses
// nginx): round robin over the backends; a backend that refuses the connection is skipped for the
// next one, as a balancer's passive health check does. A backend that dies mid-request gives the
// client a 502, and Meta delivers that webhook again.
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Balancer {
  url: string;
  /** Requests each backend answered, by its port. */
  served: Map<number, number>;
  close(): Promise<void>;
}

export async function startBalancer(port: number, backends: () => number[]): Promise<Balancer> {
  let next = 0;
  const served = new Map<number, number>();

  const forward = (req: IncomingMessage, res: ServerResponse, body: Buffer, tried: Set<number>): void => {
    const ports = backends().filter((p) => !tried.has(p));
    if (ports.length === 0) {
      res.writeHead(502, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'no_backend', message: 'No API process is answering' } }));
      return;
    }
    const backend = ports[next++ % ports.length]!;
    tried.add(backend);
    const upstream = request(
      {
        host: '127.0.0.1',
        port: backend,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, 'x-forwarded-for': req.socket.remoteAddress ?? '' },
      },
      (answer) => {
        served.set(backend, (served.get(backend) ?? 0) + 1);
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
        answer.on('error', () => res.destroy());
      },
    );
    upstream.on('error', (error: NodeJS.ErrnoException) => {
      // Nothing reached the backend: another one may take it.
      if (error.code === 'ECONNREFUSED' && !res.headersSent) forward(req, res, body, tried);
      else if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 'bad_gateway', message: 'The API process went away' } }));
      } else res.destroy();
    });
    upstream.end(body);
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => forward(req, res, Buffer.concat(chunks), new Set()));
    req.on('error', () => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const address = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}`,
    served,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
