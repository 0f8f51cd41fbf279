// PostgreSQL through knex: the pool, the migration runner and prepared statements (the typed rows
// of each table are in src/store/tables.ts).
import { createHash } from 'node:crypto';
import knex, { type Knex } from 'knex';
import pg from 'pg';
import { migrationSource } from '../migrations/index.js';
import type { Logger } from './logger.js';

// Return bigint counts and ids as numbers (they stay far below 2^53 here) and timestamps as Date.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));
// bigint[] (a turn's message ids) likewise.
const BIGINT_ARRAY_OID = 1016 as Parameters<typeof pg.types.getTypeParser>[0];
const parseBigintArray = pg.types.getTypeParser(BIGINT_ARRAY_OID) as (value: string) => string[];
pg.types.setTypeParser(BIGINT_ARRAY_OID, (value: string) => parseBigintArray(value).map(Number));

export type Db = Knex;

/** PostgreSQL's own error fields that quote row values ("Key (wamid)=(...) already exists."). */
const VALUE_FIELDS = ['detail', 'where', 'internalQuery'] as const;

export function createDb(databaseUrl: string, options: { poolMax?: number; log?: Logger } = {}): Db {
  const log = options.log;
  const db = knex({
    // knex prints its warnings with console.log unless given a logger.
    log: {
      warn: (message: unknown) => log?.warn({ knex: String(message) }, 'database warning'),
      error: (message: unknown) => log?.error({ knex: String(message) }, 'database error'),
      deprecate: () => undefined,
      debug: () => undefined,
    },
    client: 'pg',
    // Errors name the statement, never the bound values (message text, tokens, phone numbers).
    compileSqlOnError: false,
    connection: { connectionString: databaseUrl, application_name: 'waconnect' },
    pool: { min: 0, max: options.poolMax ?? 10 },
    acquireConnectionTimeout: 10_000,
  });
  // Runs before the query's promise rejects, so no caller (or log line) ever sees the values.
  db.on('query-error', (error: unknown) => {
    if (!error || typeof error !== 'object') return;
    for (const field of VALUE_FIELDS) delete (error as Record<string, unknown>)[field];
  });
  return db;
}

interface PreparedStatement {
  name: string;
  text: string;
}
const preparedStatements = new Map<string, PreparedStatement>();

/**
 * Runs one autocommit statement as a named prepared statement, so PostgreSQL parses and plans it
 * once per connection instead of on every call: for the few hot-path statements (webhook intake)
 * whose planning costs more than their execution. Placeholders are `?` as in `db.raw`; values are
 * always bound. Errors are stripped of quoted values like every other query's, and `query`
 * listeners see the statement as they see any other.
 */
export async function preparedQuery<Row>(db: Db, text: string, values: unknown[]): Promise<Row[]> {
  let statement = preparedStatements.get(text);
  if (!statement) {
    let n = 0;
    const native = text.replace(/\?/g, () => `$${++n}`);
    statement = { name: `waconnect_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`, text: native };
    preparedStatements.set(text, statement);
  }
  if ((statement.text.match(/\$\d+/g) ?? []).length !== values.length)
    throw new Error('preparedQuery: the number of values does not match the placeholders');
  db.emit('query', { sql: statement.text, method: 'raw', bindings: [] });
  const client = db.client as {
    acquireConnection(): Promise<pg.PoolClient>;
    releaseConnection(connection: pg.PoolClient): Promise<void>;
  };
  const connection = await client.acquireConnection();
  try {
    const result = await connection.query<Row & pg.QueryResultRow>({
      name: statement.name,
      text: statement.text,
      values,
    });
    return result.rows;
  } catch (error) {
    if (error && typeof error === 'object')
      for (const field of VALUE_FIELDS) delete (error as Record<string, unknown>)[field];
    throw error;
  } finally {
    await client.releaseConnection(connection);
  }
}

/** Whether PostgreSQL answers at all: the readiness check's ping. */
export async function ping(db: Db): Promise<void> {
  await db.raw('SELECT 1');
}

export async function migrateLatest(db: Db): Promise<string[]> {
  const [, applied] = (await db.migrate.latest({ migrationSource })) as [number, string[]];
  return applied;
}

export async function migrateRollback(db: Db, all = false): Promise<string[]> {
  const [, rolledBack] = (await db.migrate.rollback({ migrationSource }, all)) as [number, string[]];
  return rolledBack;
}

/** Runs `fn` on the server's `postgres` database with the name of the URL's own, checked to be a plain identifier. */
async function onServer(databaseUrl: string, verb: string, fn: (client: pg.Client, name: string) => Promise<void>) {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.slice(1));
  if (!/^[A-Za-z0-9_]+$/.test(name)) throw new Error(`refusing to ${verb} database with name "${name}"`);
  url.pathname = '/postgres';
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    await fn(client, name);
  } finally {
    await client.end();
  }
}

/** Creates the database named in the URL when it does not exist yet (connecting to `postgres`). */
export async function ensureDatabase(databaseUrl: string): Promise<void> {
  await onServer(databaseUrl, 'create', async (client, name) => {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE "${name}"`);
  });
}

export async function dropDatabase(databaseUrl: string): Promise<void> {
  await onServer(databaseUrl, 'drop', (client, name) =>
    client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).then(() => undefined),
  );
}
