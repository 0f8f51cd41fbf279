import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from './helpers/stack.js';
import { freePort } from './helpers/ports.js';

describe('health endpoints', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ api: true, worker: false });
  });
  afterAll(() => stack?.close());

  it('answers /healthz while the process lives', async () => {
    const res = await fetch(`${stack.api!.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('answers /readyz 200 when PostgreSQL and Temporal both answer', async () => {
    const res = await fetch(`${stack.api!.url}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ready', checks: { postgres: 'ok', temporal: 'ok' } });
  });

  it('answers /readyz 503 naming Temporal when it cannot be reached', async () => {
    const down = await startStack({
      api: true,
      worker: false,
      env: { TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}` },
    });
    try {
      const res = await fetch(`${down.api!.url}/readyz`);
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({ status: 'not_ready', checks: { postgres: 'ok', temporal: 'unreachable' } });
    } finally {
      await down.close();
    }
  });

  it('answers /readyz 503 naming PostgreSQL when it cannot be reached', async () => {
    const down = await startStack({
      api: true,
      worker: false,
      env: { DATABASE_URL: `postgres://postgres@127.0.0.1:${await freePort()}/none` },
    });
    try {
      const res = await fetch(`${down.api!.url}/readyz`);
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({ status: 'not_ready', checks: { postgres: 'unreachable', temporal: 'ok' } });
    } finally {
      await down.close();
    }
  });

  it('answers unknown routes with a JSON 404', async () => {
    const res = await fetch(`${stack.api!.url}/nope`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { code: 'not_found', message: 'No such route.' } });
  });
});
