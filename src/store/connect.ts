// OAuth states (single use, bound to a business, stored hashed) and connect attempts.
import { randomToken, sha256Hex } from '../crypto.js';
import type { ConnectAttemptRow, ConnectFlow, Db, OAuthStateRow } from '../db.js';

const STATE_TTL_MS = 10 * 60 * 1000;

export async function createOAuthState(db: Db, businessId: string, now = new Date()): Promise<{ state: string; stateHash: string }> {
  const state = randomToken();
  const stateHash = sha256Hex(state);
  await db('oauth_states').insert({ state_hash: stateHash, business_id: businessId, expires_at: new Date(now.getTime() + STATE_TTL_MS) });
  return { state, stateHash };
}

export type StateLookup =
  | { status: 'fresh'; row: OAuthStateRow }
  /** Used before and not expired: a reload of the callback. */
  | { status: 'used'; row: OAuthStateRow }
  | { status: 'invalid' };

/** Consumes a state atomically: exactly one caller ever sees it `fresh`. */
export async function consumeOAuthState(db: Db, state: string): Promise<StateLookup> {
  if (state.length === 0 || state.length > 512) return { status: 'invalid' };
  const stateHash = sha256Hex(state);
  const [fresh] = await db('oauth_states')
    .where({ state_hash: stateHash })
    .whereNull('used_at')
    .andWhere('expires_at', '>', db.fn.now())
    .update({ used_at: db.fn.now() })
    .returning('*');
  if (fresh) return { status: 'fresh', row: fresh };
  const row = await db('oauth_states').where({ state_hash: stateHash }).andWhere('expires_at', '>', db.fn.now()).first();
  return row?.used_at ? { status: 'used', row } : { status: 'invalid' };
}

export async function recordAttemptStarted(db: Db, workflowId: string, businessId: string, flow: ConnectFlow): Promise<void> {
  await db('connect_attempts')
    .insert({ workflow_id: workflowId, business_id: businessId, flow, state: 'running' })
    .onConflict('workflow_id')
    .merge({ state: 'running', error_code: null, error_message: null, finished_at: null });
}

export async function recordAttemptFinished(
  db: Db,
  workflowId: string,
  outcome: { state: 'succeeded' | 'failed'; errorCode?: string; errorMessage?: string; integrationId?: string },
): Promise<void> {
  await db('connect_attempts')
    .where({ workflow_id: workflowId })
    .update({
      state: outcome.state,
      error_code: outcome.errorCode ?? null,
      error_message: outcome.errorMessage ?? null,
      integration_id: outcome.integrationId ?? null,
      finished_at: new Date(),
    });
}

export async function latestAttempt(db: Db, businessId: string): Promise<ConnectAttemptRow | undefined> {
  return db('connect_attempts').where({ business_id: businessId }).orderBy('started_at', 'desc').first();
}

export async function purgeExpiredStates(db: Db, now = new Date()): Promise<number> {
  return db('oauth_states').where('expires_at', '<', new Date(now.getTime() - 24 * 60 * 60 * 1000)).delete();
}
