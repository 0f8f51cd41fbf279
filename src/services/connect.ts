// The connect flow's HTTP-side work: mint the OAuth state and dialog URL, and turn Meta's callback
// into a ConnectWhatsApp workflow whose outcome becomes the dashboard redirect.
import { WorkflowFailedError, WorkflowNotFoundError, type Client, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { Config } from '../config.js';
import type { Db } from '../db.js';
import { isConnectErrorCode, type ConnectErrorCode } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ApiMetrics } from '../metrics.js';
import { randomToken, sha256Hex } from '../crypto.js';
import {
  consumeConnectTicket,
  consumeOAuthState,
  createConnectTicket,
  attemptOf,
  createOAuthState,
  linkStateToWorkflow,
  recordAttemptFinished,
  recordAttemptStarted,
} from '../store/connect.js';
import { readStaged, stageSecret } from '../store/staging.js';
import { connectWorkflowId, searchAttributes, workflowTypes } from '../temporal/names.js';
import { startWorkflow } from '../temporal/start.js';
import { callTimeouts } from '../temporal/timeouts.js';
import type { ConnectInput, ConnectResult, connectWhatsApp } from '../../workflows/connect-whatsapp.js';

export interface ConnectDeps {
  config: Config;
  db: Db;
  log: Logger;
  temporal: Client;
  metrics: ApiMetrics;
}

const OAUTH_SCOPES = ['whatsapp_business_management', 'whatsapp_business_messaging', 'business_management'];

const CONNECT_START_PATH = '/api/integrations/whatsapp/connect/start';

/**
 * Mints a one-time ticket for the business and returns the URL on our own origin the browser opens
 * top-level: that hop binds the OAuth state to the browser (a cookie) before it goes to Meta.
 */
export async function beginConnect({ config, db }: ConnectDeps, businessId: string): Promise<string> {
  const ticket = await createConnectTicket(db, businessId, config.limits.oauthStatesPerBusiness);
  const url = new URL(`${config.publicUrl}${CONNECT_START_PATH}`);
  url.searchParams.set('ticket', ticket);
  return url.toString();
}

export interface ConnectDialog {
  dialogUrl: string;
  /** Goes into the browser's cookie; only its hash is stored, next to the state's. */
  nonce: string;
  stateHash: string;
}

/** Uses the ticket once: mints the state bound to a fresh nonce and returns Meta's dialog URL. */
export async function openConnectDialog(
  { config, db }: ConnectDeps,
  ticket: string,
): Promise<ConnectDialog | undefined> {
  const businessId = await consumeConnectTicket(db, ticket);
  if (businessId === undefined) return undefined;
  const nonce = randomToken();
  const { state, stateHash } = await createOAuthState(
    db,
    businessId,
    sha256Hex(nonce),
    config.limits.oauthStatesPerBusiness,
  );
  return { dialogUrl: metaDialogUrl(config, state), nonce, stateHash };
}

function metaDialogUrl(config: Config, state: string): string {
  const url = new URL(`${config.meta.oauthDialogUrl}/${config.meta.graphApiVersion}/dialog/oauth`);
  url.searchParams.set('client_id', config.meta.appId);
  url.searchParams.set('redirect_uri', config.meta.redirectUri);
  url.searchParams.set('state', state);
  url.searchParams.set('response_type', 'code');
  if (config.meta.configId) url.searchParams.set('config_id', config.meta.configId);
  else url.searchParams.set('scope', OAUTH_SCOPES.join(','));
  return url.toString();
}

export type ConnectOutcome =
  { kind: 'success'; result: ConnectResult } | { kind: 'error'; code: ConnectErrorCode } | { kind: 'pending' };

export function dashboardRedirect(config: Config, outcome: ConnectOutcome): string {
  const url = new URL(`${config.frontendUrl}/dashboard/integrations`);
  if (outcome.kind === 'success') {
    url.searchParams.set('success', 'true');
    url.searchParams.set('channel', 'whatsapp');
  } else if (outcome.kind === 'pending') {
    url.searchParams.set('pending', 'true');
    url.searchParams.set('channel', 'whatsapp');
  } else {
    url.searchParams.set('error', outcome.code);
  }
  return url.toString();
}

export interface CallbackQuery {
  code?: string | undefined;
  state?: string | undefined;
  error?: string | undefined;
}

/**
 * Handles Meta's redirect back. The state says which business started this, the browser's nonce
 * that it is the browser which asked: an unknown or expired state, or a missing or different
 * nonce, calls nothing at Meta. A reload of a used state shows the outcome of
 * the connect it started.
 */
export async function completeCallback(
  deps: ConnectDeps,
  query: CallbackQuery,
  nonce: string | undefined,
): Promise<ConnectOutcome> {
  const { config, db, log } = deps;
  const lookup = await consumeOAuthState(db, query.state ?? '', nonce);
  if (lookup.status === 'invalid') return { kind: 'error', code: 'invalid_state' };
  // Another browser than the one that asked for this state: never attach its Meta account.
  if (lookup.status === 'mismatch') return { kind: 'error', code: 'session_mismatch' };
  const { business_id: businessId, state_hash: stateHash } = lookup.row;
  const workflowId = connectWorkflowId(businessId, stateHash);

  if (lookup.status === 'fresh') {
    await linkStateToWorkflow(db, lookup.row.id, workflowId);
    await recordAttemptStarted(db, workflowId, businessId, 'redirect');
    if (query.error || !query.code) {
      // Meta sends error=access_denied when the person cancels; anything else is unexpected.
      const code: ConnectErrorCode = query.error === 'access_denied' ? 'access_denied' : 'internal_error';
      await recordAttemptFinished(db, workflowId, { state: 'failed', errorCode: code });
      return { kind: 'error', code };
    }
    await stageSecret(db, config.keyring, workflowId, 'code', query.code);
  }

  let handle: WorkflowHandle<typeof connectWhatsApp>;
  try {
    handle = await startOrFind(deps, workflowId, {
      businessId,
      flow: 'redirect',
      redirectUri: config.meta.redirectUri,
    });
  } catch (error) {
    if (error instanceof ReplayWithoutWorkflow) return error.outcome;
    log.error({ err: error, workflowId }, 'could not start ConnectWhatsApp');
    await recordAttemptFinished(db, workflowId, { state: 'failed', errorCode: 'internal_error' }).catch(
      () => undefined,
    );
    return { kind: 'error', code: 'internal_error' };
  }
  return awaitOutcome(deps, handle, config.callbackWaitMs);
}

export class ReplayWithoutWorkflow extends Error {
  constructor(readonly outcome: ConnectOutcome) {
    super('replayed state without a workflow');
  }
}

/** Starts the connect, or finds the one this id already started (double click, reload). */
export async function startOrFind(
  deps: ConnectDeps,
  workflowId: string,
  input: ConnectInput,
): Promise<WorkflowHandle<typeof connectWhatsApp>> {
  const { config, db, temporal } = deps;
  const existing = temporal.workflow.getHandle<typeof connectWhatsApp>(workflowId);
  try {
    await existing.describe();
    return existing;
  } catch (error) {
    if (!(error instanceof WorkflowNotFoundError)) throw error;
  }
  // Never started (or its start failed): only start when the code is still staged, unspent.
  if (!(await readStaged(db, config.keyring, workflowId, 'code'))) {
    const attempt = await attemptOf(db, workflowId);
    const code = attempt?.error_code;
    throw new ReplayWithoutWorkflow({ kind: 'error', code: isConnectErrorCode(code) ? code : 'invalid_state' });
  }
  await recordAttemptStarted(db, workflowId, input.businessId, input.flow);
  // A start that finds the id taken (a second callback racing this one) answers that run's handle.
  const { handle } = await startWorkflow<typeof connectWhatsApp>(temporal, workflowTypes.connectWhatsApp, {
    baseQueue: config.temporal.taskQueue,
    counter: deps.metrics.workflowStarts,
    workflowId,
    args: [{ ...input, timeouts: callTimeouts(config) }],
    workflowIdReusePolicy: 'REJECT_DUPLICATE',
    workflowIdConflictPolicy: 'USE_EXISTING',
    typedSearchAttributes: [{ key: searchAttributes.businessId, value: input.businessId }],
    memo: { businessId: input.businessId, flow: input.flow },
  });
  return handle;
}

/** Waits up to `waitMs` for the connect's result; after that the dashboard shows it as pending. */
export async function awaitOutcome(
  deps: ConnectDeps,
  handle: WorkflowHandle<typeof connectWhatsApp>,
  waitMs: number,
): Promise<ConnectOutcome> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), waitMs);
  try {
    const result = await deps.temporal.withAbortSignal(controller.signal, () => handle.result());
    return { kind: 'success', result };
  } catch (error) {
    if (controller.signal.aborted) return { kind: 'pending' };
    if (error instanceof WorkflowFailedError) {
      const type = error.cause instanceof ApplicationFailure ? error.cause.type : undefined;
      return { kind: 'error', code: isConnectErrorCode(type) ? type : 'internal_error' };
    }
    deps.log.error({ err: error, workflowId: handle.workflowId }, 'waiting for ConnectWhatsApp failed');
    return { kind: 'pending' };
  } finally {
    clearTimeout(timer);
  }
}
