// `rekey`: re-encrypts every credential, PIN and staged secret, and every token schedule's
// arguments, under the first key of their keyrings; prints counts per key id.
import type { Config } from '../config.js';
import { rekey, type RekeyReport } from '../services/rekey.js';
import { withDbAndTemporal } from './operator.js';

export function runRekey(config: Config): Promise<RekeyReport> {
  return withDbAndTemporal(config, (db, client) => rekey(db, client, config));
}
