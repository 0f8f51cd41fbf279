// `rekey`: re-encrypts every credential, PIN and staged secret, and every token schedule's
// arguments, under the first key of their keyrings; prints counts per key id.
import type { Config } from '../config.js';
import { createDb } from '../db.js';
import { rekey, type RekeyReport } from '../services/rekey.js';
import { connectTemporal } from '../temporal/client.js';

export async function runRekey(config: Config): Promise<RekeyReport> {
  const db = createDb(config.databaseUrl, { poolMax: 2 });
  const client = await connectTemporal(config);
  try {
    return await rekey(db, client, config);
  } finally {
    await client.connection.close();
    await db.destroy();
  }
}
