// One Temporal dev server and one fresh PostgreSQL database for the whole run, migrated, with the
// workflow bundle built once. Each test file then runs its own worker on its own task queue.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { TestProject } from 'vitest/node';
import { createDb, dropDatabase, ensureDatabase, migrateLatest } from '../src/db.js';
import { startEmbeddedPostgres } from '../src/dev/postgres.js';
import { projectRoot } from '../src/paths.js';
import { findTemporalCli, HOW_TO_GET_TEMPORAL } from '../src/temporal/cli.js';
import { startDevServer } from '../src/temporal/dev-server.js';
import { bundleWorkflows } from '../src/temporal/worker.js';
import { freePort } from './helpers/ports.js';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    databaseUrl: string;
    workflowBundlePath: string;
    temporalCliPath: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const scratch = mkdtempSync(join(tmpdir(), 'waconnect-test-'));
  chmodSync(scratch, 0o755); // the embedded PostgreSQL runs as its own user when we are root
  const cleanups: Array<() => Promise<void>> = [async () => rmSync(scratch, { recursive: true, force: true })];
  const teardown = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((error: unknown) => console.error(error));
  };
  try {
    // PostgreSQL: a database of our own on DATABASE_URL's server, or an embedded server.
    let databaseUrl: string;
    if (process.env.DATABASE_URL) {
      const url = new URL(process.env.DATABASE_URL);
      url.pathname = `/waconnect_test_${randomBytes(4).toString('hex')}`;
      databaseUrl = url.toString();
    } else {
      const postgres = await startEmbeddedPostgres({
        dataDir: join(scratch, 'postgres'),
        port: await freePort(),
        password: 'test',
        database: 'waconnect_test',
      });
      cleanups.push(() => postgres.stop());
      databaseUrl = postgres.url;
    }
    await ensureDatabase(databaseUrl);
    if (process.env.DATABASE_URL) cleanups.push(() => dropDatabase(databaseUrl));
    const db = createDb(databaseUrl, { poolMax: 1 });
    await migrateLatest(db);
    await db.destroy();

    // Temporal: the given server, or a dev server from the same CLI module `npm start` uses.
    let temporalAddress = process.env.TEMPORAL_ADDRESS;
    let temporalCliPath = '';
    const cli = await findTemporalCli({ projectRoot }).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}\n${HOW_TO_GET_TEMPORAL}`);
    });
    if (cli.kind === 'path') temporalCliPath = cli.path;
    if (!temporalAddress) {
      const server = await startDevServer({ cli, port: await freePort(), logFile: join(scratch, 'temporal.log') });
      cleanups.push(() => server.stop());
      temporalAddress = server.address;
    }

    const workflowBundlePath = join(scratch, 'workflow-bundle.js');
    writeFileSync(workflowBundlePath, await bundleWorkflows());

    project.provide('temporalAddress', temporalAddress);
    project.provide('databaseUrl', databaseUrl);
    project.provide('workflowBundlePath', workflowBundlePath);
    project.provide('temporalCliPath', temporalCliPath);
  } catch (error) {
    await teardown();
    throw error;
  }
  return teardown;
}
