// Secrets waiting between the activities of one connect (authorization code, tokens), encrypted,
// so that workflow inputs, results and history carry only the connect id.
import { decryptText, encryptText, type Keyring } from '../crypto.js';
import type { Db } from '../db.js';
import type { StagedKind } from './tables.js';

/** How long leftovers of a connect that died may stay before the purge removes them. */
const PURGE_AFTER_MS = 24 * 60 * 60 * 1000;

export const stagingAad = (connectId: string, kind: StagedKind) => `token_staging:${connectId}:${kind}`;

export interface StagedSecret {
  value: string;
  expiresAt: Date | null;
}

export async function stageSecret(
  db: Db,
  keyring: Keyring,
  connectId: string,
  kind: StagedKind,
  value: string,
  expiresAt: Date | null = null,
): Promise<void> {
  await db('token_staging')
    .insert({
      connect_id: connectId,
      kind,
      ciphertext: encryptText(keyring, value, stagingAad(connectId, kind)),
      token_expires_at: expiresAt,
      purge_after: new Date(Date.now() + PURGE_AFTER_MS),
    })
    .onConflict(['connect_id', 'kind'])
    .merge();
}

export async function readStaged(
  db: Db,
  keyring: Keyring,
  connectId: string,
  kind: StagedKind,
): Promise<StagedSecret | undefined> {
  const row = await db('token_staging').where({ connect_id: connectId, kind }).first();
  if (!row) return undefined;
  return { value: decryptText(keyring, row.ciphertext, stagingAad(connectId, kind)), expiresAt: row.token_expires_at };
}

/** The best token a connect holds so far: the long-lived one when it has been exchanged. */
export async function readStagedToken(db: Db, keyring: Keyring, connectId: string): Promise<StagedSecret | undefined> {
  return (
    (await readStaged(db, keyring, connectId, 'long_lived_token')) ??
    (await readStaged(db, keyring, connectId, 'user_token'))
  );
}

export async function dropStaged(db: Db, connectId: string, kind?: StagedKind): Promise<void> {
  await db('token_staging')
    .where({ connect_id: connectId, ...(kind ? { kind } : {}) })
    .delete();
}

export async function purgeExpiredStaging(db: Db, now = new Date()): Promise<number> {
  return db('token_staging').where('purge_after', '<', now).delete();
}
