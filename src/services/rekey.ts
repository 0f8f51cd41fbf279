// `npm run rekey`: everything we encrypt ends up under the first key of its keyring, so an older key
// can be removed. Secrets in PostgreSQL are re-encrypted under CREDENTIALS_ENCRYPTION_KEY's first
// key; token-care schedules are brought up to date, which re-encrypts their workflow arguments under
// the codec's first key. Workflow histories are not rewritten: a codec key is retired by time (see
// README, Key rotation).
import type { Client } from '@temporalio/client';
import type { Config } from '../config.js';
import type { Db } from '../db.js';
import { activeIntegrations } from '../store/integrations.js';
import {
  rekeyErasureTargets,
  rekeyIntegrationTokens,
  rekeyRegistrationPins,
  rekeyStagedSecrets,
  type RekeyCount,
} from '../store/rekey.js';
import { ensureTokenSchedule, tokenScheduleArgKeyIds } from '../temporal/schedules.js';

export interface RekeyReport {
  credentialsKey: string;
  codecKey: string;
  tokens: RekeyCount;
  pins: RekeyCount;
  stagedSecrets: RekeyCount;
  erasureTargets: RekeyCount;
  schedules: RekeyCount;
}

export async function rekey(db: Db, client: Client, config: Config): Promise<RekeyReport> {
  const keyring = config.keyring;
  const report: RekeyReport = {
    credentialsKey: keyring.primary!,
    codecKey: config.codecKeyring.primary!,
    tokens: await rekeyIntegrationTokens(db, keyring),
    pins: await rekeyRegistrationPins(db, keyring),
    stagedSecrets: await rekeyStagedSecrets(db, keyring),
    erasureTargets: await rekeyErasureTargets(db, keyring),
    schedules: { before: {}, rewritten: 0, changedMeanwhile: 0 },
  };
  for (const integration of await activeIntegrations(db)) {
    const keyIds = await tokenScheduleArgKeyIds(client, integration.id);
    for (const keyId of keyIds ?? []) report.schedules.before[keyId] = (report.schedules.before[keyId] ?? 0) + 1;
    // Missing, or under another key: (re)written with today's arguments, encrypted under the first key.
    if (keyIds === null || keyIds.some((k) => k !== report.codecKey)) {
      await ensureTokenSchedule(client, config, { integrationId: integration.id, businessId: integration.business_id });
      report.schedules.rewritten += 1;
    }
  }
  return report;
}
