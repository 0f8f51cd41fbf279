// `migrate [latest|rollback|rollback-all] [--skip-temporal]`: knex migrations, then the Temporal
// namespace's search attributes (registered idempotently; where the credentials may not, the
// commands to run instead, and a non-zero exit).
import type { Config } from '../config.js';
import { createDb, ensureDatabase, migrateLatest, migrateRollback } from '../db.js';
import type { Logger } from '../logger.js';
import { connectTemporal } from '../temporal/client.js';
import {
  registerSearchAttributes,
  SearchAttributesError,
  wantedSearchAttributes,
  type RegisterReport,
} from '../temporal/search-attributes.js';

export type MigrateDirection = 'latest' | 'rollback' | 'rollback-all';

export async function runMigrations(databaseUrl: string, direction: MigrateDirection, log: Logger): Promise<string[]> {
  if (direction === 'latest') await ensureDatabase(databaseUrl);
  const db = createDb(databaseUrl, { poolMax: 2 });
  try {
    const names =
      direction === 'latest' ? await migrateLatest(db) : await migrateRollback(db, direction === 'rollback-all');
    log.info(
      { direction, migrations: names },
      names.length ? `migrations: ${direction} applied ${names.length}` : 'migrations: nothing to do',
    );
    return names;
  } finally {
    await db.destroy();
  }
}

/** Registers the search attributes the workflows set on the configured namespace. */
export async function setUpTemporal(config: Config, log: Logger): Promise<RegisterReport> {
  const client = await connectTemporal(config).catch((error: unknown) => {
    throw new SearchAttributesError(
      `Temporal at ${config.temporal.address} is not reachable (${(error as Error).message}); ` +
        'search attributes were not registered. Start it, or run migrate with --skip-temporal.',
      wantedSearchAttributes.map((a) => a.name),
      { cause: error },
    );
  });
  try {
    const report = await registerSearchAttributes(client);
    log.info(
      { namespace: config.temporal.namespace, added: report.added, present: report.present },
      report.added.length
        ? `search attributes: registered ${report.added.join(', ')}`
        : 'search attributes: all present',
    );
    return report;
  } finally {
    await client.connection.close();
  }
}
