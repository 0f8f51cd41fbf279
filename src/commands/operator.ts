// What the operator commands (reconcile, rekey) run on: a small pool of their own and a Temporal
// client, both closed when the command is done, whatever its outcome.
import type { Client } from '@temporalio/client';
import type { Config } from '../config.js';
import { createDb, type Db } from '../db.js';
import { connectTemporal } from '../temporal/client.js';

export async function withDbAndTemporal<T>(config: Config, run: (db: Db, client: Client) => Promise<T>): Promise<T> {
  const db = createDb(config.databaseUrl, { poolMax: 2 });
  try {
    const client = await connectTemporal(config);
    try {
      return await run(db, client);
    } finally {
      await client.connection.close();
    }
  } finally {
    await db.destroy();
  }
}
