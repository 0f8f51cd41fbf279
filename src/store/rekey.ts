// Re-encryption of every secret we keep under the credentials keyring's first key: integration
// tokens, registration PINs, staged connect secrets and the targets of running erasures. Each row is rewritten only if its
// ciphertext is still the one read (a token refreshed meanwhile is already under the new key).
import { keyIdOf, reencryptText, type Keyring } from '../crypto.js';
import type { Db } from '../db.js';
import { targetAad } from './erasures.js';
import { credentialsAad } from './integrations.js';
import { pinAad } from './registration.js';
import { stagingAad } from './staging.js';
import type { StagedKind } from './tables.js';

/**
 * Per kind of secret: how many were under each key id when read, how many of those not under the
 * first key were rewritten, and how many were left because a writer replaced (or removed) them
 * between the read and the rewrite. Rewriting the value read would have lost the writer's; a
 * process deployed with the new keyring wrote it under the first key already.
 */
export interface RekeyCount {
  before: Record<string, number>;
  rewritten: number;
  changedMeanwhile: number;
}

const BATCH = 500;

async function rekeyRows<T extends { ciphertext: string }>(
  page: (after: string | null) => Promise<Array<T & { cursor: string }>>,
  keyring: Keyring,
  aadOf: (row: T) => string,
  write: (row: T, next: string) => Promise<number>,
): Promise<RekeyCount> {
  const count: RekeyCount = { before: {}, rewritten: 0, changedMeanwhile: 0 };
  for (let after: string | null = null; ;) {
    const rows = await page(after);
    for (const row of rows) {
      const keyId = keyIdOf(row.ciphertext);
      count.before[keyId] = (count.before[keyId] ?? 0) + 1;
      const next = reencryptText(keyring, row.ciphertext, aadOf(row));
      if (next === null) continue;
      if ((await write(row, next)) === 1) count.rewritten += 1;
      else count.changedMeanwhile += 1;
    }
    if (rows.length < BATCH) return count;
    after = rows.at(-1)!.cursor;
  }
}

export function rekeyIntegrationTokens(db: Db, keyring: Keyring): Promise<RekeyCount> {
  return rekeyRows<{ id: string; ciphertext: string }>(
    (after) =>
      db('channel_integrations')
        .whereRaw(`jsonb_exists(credentials, 'accessToken')`)
        .modify((q) => void (after !== null && q.where('id', '>', after)))
        .orderBy('id')
        .limit(BATCH)
        .select('id', db.raw(`credentials->>'accessToken' AS ciphertext`), 'id as cursor'),
    keyring,
    (row) => credentialsAad(row.id),
    (row, next) =>
      db('channel_integrations')
        .where({ id: row.id })
        .whereRaw(`credentials->>'accessToken' = ?`, [row.ciphertext])
        .update({ credentials: db.raw(`jsonb_set(credentials, '{accessToken}', to_jsonb(?::text))`, [next]) }),
  );
}

export function rekeyRegistrationPins(db: Db, keyring: Keyring): Promise<RekeyCount> {
  return rekeyRows<{ id: string; ciphertext: string }>(
    (after) =>
      db('whatsapp_phone_numbers')
        .whereNotNull('registration_pin')
        .modify((q) => void (after !== null && q.where('id', '>', after)))
        .orderBy('id')
        .limit(BATCH)
        .select('id', 'registration_pin as ciphertext', 'id as cursor'),
    keyring,
    (row) => pinAad(row.id),
    (row, next) =>
      db('whatsapp_phone_numbers')
        .where({ id: row.id, registration_pin: row.ciphertext })
        .update({ registration_pin: next }),
  );
}

export function rekeyStagedSecrets(db: Db, keyring: Keyring): Promise<RekeyCount> {
  return rekeyRows<{ connect_id: string; kind: StagedKind; ciphertext: string }>(
    (after) =>
      db('token_staging')
        .modify((q) => void (after !== null && q.whereRaw(`connect_id || '/' || kind > ?`, [after])))
        .orderByRaw(`connect_id || '/' || kind`)
        .limit(BATCH)
        .select('connect_id', 'kind', 'ciphertext', db.raw(`connect_id || '/' || kind AS cursor`)),
    keyring,
    (row) => stagingAad(row.connect_id, row.kind),
    (row, next) =>
      db('token_staging')
        .where({ connect_id: row.connect_id, kind: row.kind, ciphertext: row.ciphertext })
        .update({ ciphertext: next }),
  );
}

export function rekeyErasureTargets(db: Db, keyring: Keyring): Promise<RekeyCount> {
  return rekeyRows<{ id: string; ciphertext: string }>(
    (after) =>
      db('erasures')
        .whereNotNull('target')
        .modify((q) => void (after !== null && q.where('id', '>', after)))
        .orderBy('id')
        .limit(BATCH)
        .select('id', 'target as ciphertext', 'id as cursor'),
    keyring,
    (row) => targetAad(row.id),
    (row, next) => db('erasures').where({ id: row.id, target: row.ciphertext }).update({ target: next }),
  );
}
