// The full Temporal server of the production layout, run from binaries built here: the server
// (all four roles in one process, as the temporalio/server image runs them) configured by the
// very template that image renders (config/docker.yaml of the same module) from the same
// environment variables docker-compose.yml gives it; its schema set up by temporal-sql-tool, as
// compose's schema job does.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, createWriteStream, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Connection, type ConnectionOptions } from '@temporalio/client';
import { findGo, isExecutable } from '../../src/temporal/cli.js';
import { terminate } from '../../src/temporal/dev-server.js';
import { TEMPORAL_SERVER_VERSION } from './services.js';

const run = promisify(execFile);
const SERVER_MODULE = `go.temporal.io/server/cmd/server@v${TEMPORAL_SERVER_VERSION}`;
const SQL_TOOL_MODULE = `go.temporal.io/server/cmd/tools/sql@v${TEMPORAL_SERVER_VERSION}`;

export interface TemporalBinaries {
  server: string;
  sqlTool: string;
  /** The server module's own config/docker.yaml: the template the Docker image renders. */
  configTemplate: string;
}

/**
 * TEMPORAL_SERVER_PATH and TEMPORAL_SQL_TOOL_PATH, else .temporal/server/bin, built there with
 * `go install` when missing (about two minutes the first time, seconds with Go's caches warm).
 */
export async function findTemporalServer(projectRoot: string, log: (line: string) => void): Promise<TemporalBinaries> {
  const go = findGo();
  if (!go)
    throw new Error(
      'Go is needed to build the Temporal server (or set TEMPORAL_SERVER_PATH and TEMPORAL_SQL_TOOL_PATH)',
    );
  const binDir = resolve(projectRoot, '.temporal', 'server', 'bin');
  const server = process.env.TEMPORAL_SERVER_PATH ?? join(binDir, 'server');
  const sqlTool = process.env.TEMPORAL_SQL_TOOL_PATH ?? join(binDir, 'sql');
  for (const [path, module] of [
    [server, SERVER_MODULE],
    [sqlTool, SQL_TOOL_MODULE],
  ] as const) {
    if (isExecutable(path)) continue;
    if (!path.startsWith(binDir)) throw new Error(`${path} is not an executable file`);
    mkdirSync(binDir, { recursive: true });
    log(`building ${module} into .temporal/server/bin`);
    const started = Date.now();
    await run(go, ['install', module], { env: { ...process.env, GOBIN: binDir }, maxBuffer: 16 << 20 });
    log(`built ${module} in ${Math.round((Date.now() - started) / 1000)} s`);
  }
  const { stdout } = await run(go, ['mod', 'download', '-json', `go.temporal.io/server@v${TEMPORAL_SERVER_VERSION}`], {
    maxBuffer: 16 << 20,
  });
  const moduleDir = (JSON.parse(stdout) as { Dir: string }).Dir;
  return { server, sqlTool, configTemplate: join(moduleDir, 'config', 'docker.yaml') };
}

export interface SqlToolTarget {
  host: string;
  port: number;
  user: string;
  password: string;
}

/** Temporal's two databases and the schema (embedded in the tool) each is brought to. */
export function temporalSchemaSteps(): Array<{ database: string; schemaName: string }> {
  return [
    { database: 'temporal', schemaName: 'postgresql/v12/temporal' },
    { database: 'temporal_visibility', schemaName: 'postgresql/v12/visibility' },
  ];
}

/** The schema job: create both databases, set up and update their schemas (idempotent). */
export async function setUpTemporalSchema(binaries: TemporalBinaries, target: SqlToolTarget): Promise<void> {
  const base = ['--plugin', 'postgres12', '--ep', target.host, '-p', String(target.port), '-u', target.user];
  const env = { ...process.env, SQL_PASSWORD: target.password };
  for (const { database, schemaName: schema } of temporalSchemaSteps()) {
    const withDb = [...base, '--db', database];
    await run(binaries.sqlTool, [...withDb, 'create-database'], { env }).catch((error: { stderr?: string }) => {
      if (!/already exists/.test(error.stderr ?? '')) throw error;
    });
    await run(binaries.sqlTool, [...withDb, 'setup-schema', '-v', '0.0'], { env });
    await run(binaries.sqlTool, [...withDb, 'update-schema', '--schema-name', schema], { env });
  }
}

export interface TemporalServerOptions {
  binaries: TemporalBinaries;
  /** Its working folder: config/, its log. */
  dir: string;
  /** The environment docker.yaml reads (the same keys compose sets). */
  env: Record<string, string>;
  /** How a client reaches it (address, TLS): for the readiness check. */
  connection: ConnectionOptions;
}

export interface TemporalServer {
  address: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

export async function startTemporalServer(options: TemporalServerOptions): Promise<TemporalServer> {
  const configDir = join(options.dir, 'config');
  mkdirSync(configDir, { recursive: true });
  copyFileSync(options.binaries.configTemplate, join(configDir, 'docker.yaml'));
  const out = createWriteStream(join(options.dir, 'temporal.log'), { flags: 'a' });
  const child = spawn(
    options.binaries.server,
    ['--root', options.dir, '--config', 'config', '--env', 'docker', 'start'],
    {
      env: { PATH: process.env.PATH, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let tail = '';
  for (const stream of [child.stdout, child.stderr])
    stream.on('data', (chunk: Buffer) => {
      tail = (tail + chunk.toString()).slice(-4000);
      out.write(chunk);
    });
  const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()));
  const reap = () => child.kill('SIGKILL');
  process.once('exit', reap);
  void exited.then(() => {
    process.off('exit', reap);
    out.end();
  });
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`the Temporal server exited at start:\n${tail}`);
    try {
      const connection = await Connection.connect({ ...options.connection, connectTimeout: '2s' });
      try {
        await connection.workflowService.getSystemInfo({});
        break;
      } finally {
        await connection.close();
      }
    } catch (error) {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`the Temporal server did not answer within 90 s (${(error as Error).message}):\n${tail}`);
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  return {
    address: options.connection.address!,
    child,
    stop: () => terminate(child, exited, 20_000),
  };
}
