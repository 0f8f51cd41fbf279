// The anchor of the acknowledgement figure: a bare server that checks the webhook's HMAC and inserts
// one row into PostgreSQL per POST, nothing else. Run as its own process by bench:webhooks.
import { createServer } from 'node:http';
import pg from 'pg';
import { verifySignature } from '../../src/meta/signature.js';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
await pool.query(
  'CREATE TABLE IF NOT EXISTS bench_bare_webhooks (id bigserial PRIMARY KEY, body jsonb NOT NULL, received_at timestamptz NOT NULL DEFAULT now())',
);
const secret = process.env.META_APP_SECRET ?? '';
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const raw = Buffer.concat(chunks);
    const signature = req.headers['x-hub-signature-256'];
    if (!verifySignature(raw, typeof signature === 'string' ? signature : undefined, secret)) {
      res.writeHead(401).end();
      return;
    }
    pool.query('INSERT INTO bench_bare_webhooks (body) VALUES ($1)', [raw.toString()]).then(
      () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"received":true}'),
      () => res.writeHead(503).end(),
    );
  });
});
server.keepAliveTimeout = 65_000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => process.stdout.write('listening\n'));
