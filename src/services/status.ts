// GET /status: the business's integration, accounts, numbers, token health and the connect in
// progress, as rows (presenters/integration-status.ts lists the answer's fields).
import type { Client } from '@temporalio/client';
import type { Config } from '../config.js';
import type { Db } from '../db.js';
import { isConnectErrorCode, type ConnectErrorCode } from '../errors.js';
import { isCoexistence, syncsOf } from '../store/coexistence.js';
import { latestAttempt } from '../store/connect.js';
import { activeAccountsOf } from '../store/accounts.js';
import { activeNumbersForStatus, currentIntegration } from '../store/integrations.js';
import { lastAbandonedSignup } from '../store/signup-events.js';
import { renewalDueAt } from '../policy/token-health.js';
import type {
  BusinessAccountRow,
  BusinessAppSyncRow,
  IntegrationRow,
  PhoneNumberRow,
  SignupEventRow,
} from '../store/tables.js';
import { nextTokenCheckAt } from '../temporal/schedules.js';
import { budgetsOf, type Budget } from '../store/registration.js';
import { connectProgressQuery, type ConnectProgress } from '../../workflows/connect-whatsapp.js';

/** The connect in progress, or the one that failed within the last day. */
export type ConnectState =
  | { state: 'running'; step: string | null; workflowId: string }
  | { state: 'failed'; code: ConnectErrorCode; workflowId: string };

/** When token care next looks at the token, and from when it renews it (null: not scheduled, never expires). */
export interface TokenSchedule {
  nextCheckAt: Date | null;
  refreshBy: Date | null;
}

/** Everything GET /status shows, as rows. */
export interface IntegrationStatus {
  /** The integration the business sees and what hangs under it; null before its first connect. */
  current: {
    integration: IntegrationRow;
    tokenSchedule: TokenSchedule;
    /** The active accounts and numbers of an active integration (none otherwise). */
    accounts: BusinessAccountRow[];
    numbers: PhoneNumberRow[];
    budgets: Map<string, Budget>;
    /** The business-app syncs of its coexistence numbers. */
    syncs: BusinessAppSyncRow[];
  } | null;
  connect: ConnectState | null;
  /** The last Embedded Signup session the person abandoned (CANCEL or ERROR). */
  lastAbandonedSignup: SignupEventRow | undefined;
}

const FAILED_ATTEMPT_SHOWN_MS = 24 * 60 * 60 * 1000;

async function connectState(db: Db, temporal: Client, businessId: string): Promise<ConnectState | null> {
  const attempt = await latestAttempt(db, businessId);
  if (!attempt || attempt.state === 'succeeded') return null;
  if (attempt.state === 'failed') {
    // The last attempt failed: worth showing for a day, then it is history.
    if (!attempt.finished_at || Date.now() - attempt.finished_at.getTime() > FAILED_ATTEMPT_SHOWN_MS) return null;
    const code = isConnectErrorCode(attempt.error_code) ? attempt.error_code : 'internal_error';
    return { state: 'failed', code, workflowId: attempt.workflow_id };
  }
  let step: string | null = null;
  try {
    const progress: ConnectProgress = await temporal.connection.withDeadline(Date.now() + 1500, () =>
      temporal.workflow.getHandle(attempt.workflow_id).query(connectProgressQuery),
    );
    step = progress.step;
  } catch {
    // No worker has picked it up yet, or Temporal is unreachable: running, step unknown.
  }
  return { state: 'running', step, workflowId: attempt.workflow_id };
}

function tokenSchedule(integration: IntegrationRow, tokens: Config['tokens'] | undefined): TokenSchedule {
  if (!tokens || !integration.is_active) return { nextCheckAt: null, refreshBy: null };
  const expiresAt = integration.token_expires_at;
  return {
    nextCheckAt: nextTokenCheckAt(integration.id, tokens.refreshIntervalMs),
    refreshBy: renewalDueAt(expiresAt, tokens.expiryThresholdDays),
  };
}

export async function readStatus(
  db: Db,
  temporal: Client,
  businessId: string,
  tokens?: Config['tokens'],
): Promise<IntegrationStatus> {
  const integration = await currentIntegration(db, businessId);
  const connect = await connectState(db, temporal, businessId);
  const abandoned = await lastAbandonedSignup(db, businessId);
  if (!integration) return { current: null, connect, lastAbandonedSignup: abandoned };

  const accounts = integration.is_active ? await activeAccountsOf(db, integration.id) : [];
  const numbers = integration.is_active ? await activeNumbersForStatus(db, integration.id) : [];
  const budgets = await budgetsOf(db, numbers);
  const syncs = await syncsOf(
    db,
    numbers.filter(isCoexistence).map((n) => n.id),
  );
  return {
    current: { integration, tokenSchedule: tokenSchedule(integration, tokens), accounts, numbers, budgets, syncs },
    connect,
    lastAbandonedSignup: abandoned,
  };
}
