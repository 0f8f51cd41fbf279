// `migrate [latest|rollback|rollback-all]`: knex migrations.
import { createDb, ensureDatabase, migrateLatest, migrateRollback } from '../db.js';
import type { Logger } from '../logger.js';

export type MigrateDirection = 'latest' | 'rollback' | 'rollback-all';

export async function runMigrations(databaseUrl: string, direction: MigrateDirection, log: Logger): Promise<string[]> {
  if (direction === 'latest') await ensureDatabase(databaseUrl);
  const db = createDb(databaseUrl, { poolMax: 2 });
  try {
    const names = direction === 'latest' ? await migrateLatest(db) : await migrateRollback(db, direction === 'rollback-all');
    log.info({ direction, migrations: names }, names.length ? `migrations: ${direction} applied ${names.length}` : 'migrations: nothing to do');
    return names;
  } finally {
    await db.destroy();
  }
}
