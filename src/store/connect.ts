// Connect tickets and OAuth states (single use, bound to a business and to the browser's nonce,
// stored hashed) and connect attempts.
import { constantTimeEqual, randomToken, sha256Hex } from '../crypto.js';
import type { Db } from '../db.js';
import type { ConnectAttemptRow, ConnectFlow, OAuthStateRow } from './tables.js';

export const STATE_TTL_MS = 10 * 60 * 1000;
/** A ticket only has to live from the dashboard's fetch of /connect to the browser opening it. */
const TICKET_TTL_MS = 2 * 60 * 1000;

/**
 * Keeps a business's unused, unexpired rows of a table to its newest `keep`: a business that asks
 * for connect after connect evicts its own oldest attempts (their callback answers invalid_state)
 * instead of piling up rows or locking itself out.
 */
async function evictOldestUnused(db: Db, table: 'connect_tickets' | 'oauth_states', businessId: string, keep: number) {
  const key = table === 'connect_tickets' ? 'ticket_hash' : 'id';
  await db(table)
    .whereIn(
      key,
      db(table)
        .select(key)
        .where({ business_id: businessId })
        .whereNull('used_at')
        .andWhere('expires_at', '>', db.fn.now())
        .orderBy('expires_at', 'desc')
        .offset(keep),
    )
    .delete();
}

/** A one-time ticket for the business: the browser opens it top-level on our origin. */
export async function createConnectTicket(db: Db, businessId: string, keep: number, now = new Date()): Promise<string> {
  const ticket = randomToken();
  await db('connect_tickets').insert({
    ticket_hash: sha256Hex(ticket),
    business_id: businessId,
    expires_at: new Date(now.getTime() + TICKET_TTL_MS),
  });
  await evictOldestUnused(db, 'connect_tickets', businessId, keep);
  return ticket;
}

/** Uses a ticket atomically: its business the first time, undefined when unknown, expired or used. */
export async function consumeConnectTicket(db: Db, ticket: string): Promise<string | undefined> {
  if (ticket.length === 0 || ticket.length > 512) return undefined;
  const [row] = await db('connect_tickets')
    .where({ ticket_hash: sha256Hex(ticket) })
    .whereNull('used_at')
    .andWhere('expires_at', '>', db.fn.now())
    .update({ used_at: db.fn.now() })
    .returning('business_id');
  return row?.business_id;
}

/** A state for the business, bound to the browser's nonce; at most `keep` unused ones stay live. */
export async function createOAuthState(
  db: Db,
  businessId: string,
  nonceHash: string,
  keep: number,
  now = new Date(),
): Promise<{ state: string; stateHash: string }> {
  const state = randomToken();
  const stateHash = sha256Hex(state);
  await db('oauth_states').insert({
    state_hash: stateHash,
    business_id: businessId,
    nonce_hash: nonceHash,
    expires_at: new Date(now.getTime() + STATE_TTL_MS),
  });
  await evictOldestUnused(db, 'oauth_states', businessId, keep);
  return { state, stateHash };
}

export type StateLookup =
  | { status: 'fresh'; row: OAuthStateRow }
  /** Used before and not expired: a reload of the callback. */
  | { status: 'used'; row: OAuthStateRow }
  /** A live state, but the browser does not hold the nonce it was minted for. */
  | { status: 'mismatch' }
  | { status: 'invalid' };

/**
 * Consumes a state atomically: exactly one caller ever sees it `fresh`, and only a browser holding
 * the state's nonce can consume it (or reload its outcome).
 */
export async function consumeOAuthState(db: Db, state: string, nonce: string | undefined): Promise<StateLookup> {
  if (state.length === 0 || state.length > 512) return { status: 'invalid' };
  const stateHash = sha256Hex(state);
  const live = await db('oauth_states')
    .where({ state_hash: stateHash })
    .andWhere('expires_at', '>', db.fn.now())
    .first();
  if (!live) return { status: 'invalid' };
  const sameBrowser =
    nonce !== undefined && live.nonce_hash !== null && constantTimeEqual(sha256Hex(nonce), live.nonce_hash);
  if (!sameBrowser) return { status: 'mismatch' };
  const [fresh] = await db('oauth_states')
    .where({ id: live.id })
    .whereNull('used_at')
    .update({ used_at: db.fn.now() })
    .returning('*');
  if (fresh) return { status: 'fresh', row: fresh };
  return { status: 'used', row: { ...live, used_at: live.used_at ?? new Date() } };
}

/** Remembers which connect a fresh state started, so a reload of its callback finds that connect. */
export async function linkStateToWorkflow(db: Db, stateId: string, workflowId: string): Promise<void> {
  await db('oauth_states').where({ id: stateId }).update({ workflow_id: workflowId });
}

export async function recordAttemptStarted(
  db: Db,
  workflowId: string,
  businessId: string,
  flow: ConnectFlow,
): Promise<void> {
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

export async function attemptOf(db: Db, workflowId: string): Promise<ConnectAttemptRow | undefined> {
  return db('connect_attempts').where({ workflow_id: workflowId }).first();
}

/** Whether a connect with this workflow id was ever recorded. */
export async function attemptExists(db: Db, workflowId: string): Promise<boolean> {
  return Boolean(await db('connect_attempts').where({ workflow_id: workflowId }).first('workflow_id'));
}

/** The integration a connect saved, once it saved one. */
export async function attemptIntegrationId(db: Db, workflowId: string): Promise<string | null | undefined> {
  const attempt = await db('connect_attempts').where({ workflow_id: workflowId }).first('integration_id');
  return attempt?.integration_id;
}

export async function recordAttemptIntegration(db: Db, workflowId: string, integrationId: string): Promise<void> {
  await db('connect_attempts').where({ workflow_id: workflowId }).update({ integration_id: integrationId });
}
