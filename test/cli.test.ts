// The built command line, run as a user runs it: bad configuration and taken ports are reported
// as a clear list and a non-zero exit, never a stack trace.
import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../src/paths.js';

const main = join(projectRoot, 'dist', 'src', 'main.js');

function run(args: string[], env: NodeJS.ProcessEnv) {
  return spawnSync(process.execPath, [main, ...args], {
    env: { PATH: process.env.PATH, ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
}

describe('waconnect command line', () => {
  it('stops the API at start-up with the list of missing variables', () => {
    const result = run(['api'], {});
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('Invalid configuration:');
    expect(result.stderr).toContain('  - DATABASE_URL: required');
    expect(result.stderr).toContain('  - META_APP_SECRET: required');
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('stops the worker with the list of malformed variables', () => {
    const result = run(['worker'], {
      DATABASE_URL: 'not-a-url',
      CREDENTIALS_ENCRYPTION_KEY: 'k:short',
      META_APP_ID: '1',
      META_APP_SECRET: 's',
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('DATABASE_URL: expected a postgres:// URL');
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('prints usage for an unknown command', () => {
    const result = run(['frobnicate'], {});
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('usage: waconnect <command>');
  });

  describe('dev with a taken port', () => {
    let blocker: Server;
    let port: number;
    beforeAll(async () => {
      blocker = createServer();
      await new Promise<void>((resolve) => blocker.listen(0, '0.0.0.0', resolve));
      port = (blocker.address() as { port: number }).port;
    });
    afterAll(() => new Promise<void>((resolve) => blocker.close(() => resolve())));

    it('names the port and exits non-zero', () => {
      const result = run(['dev'], {
        PORT: String(port),
        DATABASE_URL: 'postgres://x@127.0.0.1/x',
        TEMPORAL_ADDRESS: '127.0.0.1:1',
        HOME: process.env.HOME,
      });
      expect(result.status).toBe(1);
      expect(result.stderr).toContain(`Port already in use: ${port} (PORT, the API)`);
    });
  });
});
