// A business's own numbers: retry registration (RegisterPhoneNumber, durable), supply the
// two-step verification PIN, or have one generated (shown once). PINs are stored encrypted and
// never answered back, logged, or put into a workflow.
import { randomInt } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { Config } from '../config.js';
import type { Db } from '../db.js';
import { DomainError, REGISTRATION_ERRORS, type DomainErrorKind, type RegistrationErrorCode } from '../errors.js';
import { graphClientFromConfig } from '../meta/graph-client.js';
import { GraphError } from '../meta/graph-errors.js';
import { readIntegrationToken } from '../store/integrations.js';
import {
  budgetsOf,
  numberOfBusiness,
  setRegistration,
  stateFromFacts,
  storePin,
  type Budget,
} from '../store/registration.js';
import type { ApiMetrics } from '../metrics.js';
import type { PhoneNumberRow } from '../store/tables.js';
import { registrationWorkflowId, searchAttributes, workflowTypes } from '../temporal/names.js';
import { startWorkflow } from '../temporal/start.js';
import { callTimeouts } from '../temporal/timeouts.js';
import type { registerPhoneNumber } from '../../workflows/register-phone-number.js';

export interface RegistrationDeps {
  config: Config;
  db: Db;
  temporal: Client;
  metrics: Pick<ApiMetrics, 'workflowStarts'>;
}

/** A refusal in the registration codes' own words. */
const refuse = (kind: DomainErrorKind, code: RegistrationErrorCode, cause?: unknown) =>
  new DomainError(kind, code, REGISTRATION_ERRORS[code], { cause });

async function ownNumber(db: Db, businessId: string, phoneNumberId: string): Promise<PhoneNumberRow> {
  const row = await numberOfBusiness(db, businessId, phoneNumberId);
  if (!row) throw refuse('not_found', 'number_not_found');
  return row;
}

/** A number with its register budget: what its registration's state is read from. */
export interface NumberRegistration {
  number: PhoneNumberRow;
  budget: Budget | undefined;
}

async function registrationOf(db: Db, number: PhoneNumberRow): Promise<NumberRegistration> {
  return { number, budget: (await budgetsOf(db, [number])).get(number.phone_number_id) };
}

/** Why the table or the budget refuses a register call now. */
async function refusal(db: Db, row: PhoneNumberRow): Promise<DomainError | undefined> {
  const state = stateFromFacts(row);
  if (state === 'not_needed') return refuse('conflict', 'coexistence');
  if (state === 'registered') return refuse('conflict', 'registration_not_needed');
  if (state === 'blocked') return refuse('conflict', 'registration_blocked');
  if (state === 'needs_verification') return refuse('conflict', 'needs_verification');
  if (state === 'needs_pin') return refuse('conflict', 'needs_pin');
  const budget = (await budgetsOf(db, [row])).get(row.phone_number_id)!;
  if (budget.attemptsLeft === 0 && budget.retryAfter) {
    const seconds = Math.max(1, Math.ceil((budget.retryAfter.getTime() - Date.now()) / 1000));
    const code = row.registration_blocked_until ? 'registration_rate_limited' : 'registration_budget_spent';
    return new DomainError('rate_limited', code, `${REGISTRATION_ERRORS[code]} (${budget.retryAfter.toISOString()})`, {
      retryAfterSeconds: seconds,
    });
  }
  return undefined;
}

/** Starts RegisterPhoneNumber for the number (or finds it running) and answers its state. */
export async function retryRegistration(
  deps: RegistrationDeps,
  businessId: string,
  phoneNumberId: string,
): Promise<NumberRegistration> {
  const row = await ownNumber(deps.db, businessId, phoneNumberId);
  const refused = await refusal(deps.db, row);
  if (refused) throw refused;
  await setRegistration(deps.db, row.id, { state: 'pending', error: null });
  try {
    // An id already taken is a registration of this number running: its outcome will be recorded.
    await startWorkflow<typeof registerPhoneNumber>(deps.temporal, workflowTypes.registerPhoneNumber, {
      baseQueue: deps.config.temporal.taskQueue,
      counter: deps.metrics.workflowStarts,
      workflowId: registrationWorkflowId(row.id),
      args: [{ numberId: row.id, timeouts: callTimeouts(deps.config) }],
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      typedSearchAttributes: [
        { key: searchAttributes.businessId, value: businessId },
        { key: searchAttributes.integrationId, value: row.integration_id },
      ],
    });
  } catch (error) {
    // Nothing started (Temporal unavailable): the number is not pending after all.
    await setRegistration(deps.db, row.id, { state: stateFromFacts(row), error: null });
    throw error;
  }
  return registrationOf(deps.db, await ownNumber(deps.db, businessId, phoneNumberId));
}

/** The business tells us the number's PIN; the next registration uses it. */
export async function supplyPin(
  deps: RegistrationDeps,
  businessId: string,
  phoneNumberId: string,
  pin: string,
): Promise<NumberRegistration> {
  const row = await ownNumber(deps.db, businessId, phoneNumberId);
  if (stateFromFacts(row) === 'not_needed') throw refuse('conflict', 'coexistence');
  await storePin(deps.db, deps.config.keyring, row.id, pin);
  if (row.registration_state === 'needs_pin' || row.registration_error_code === 'pin_mismatch')
    await setRegistration(deps.db, row.id, { state: 'ready', error: null });
  return registrationOf(deps.db, await ownNumber(deps.db, businessId, phoneNumberId));
}

/**
 * Generates a PIN because the business asked: answered once, stored encrypted; asking again
 * resets it. A registered number gets it at Meta as its two-step verification PIN first, so the
 * stored PIN is always the one Meta knows.
 */
export async function generatePin(
  deps: RegistrationDeps,
  businessId: string,
  phoneNumberId: string,
): Promise<{ pin: string; registration: NumberRegistration }> {
  const row = await ownNumber(deps.db, businessId, phoneNumberId);
  const state = stateFromFacts(row);
  if (state === 'not_needed') throw refuse('conflict', 'coexistence');
  const pin = String(randomInt(0, 1_000_000)).padStart(6, '0');
  if (state === 'registered') {
    const token = await readIntegrationToken(deps.db, deps.config.keyring, row.integration_id);
    if (!token) throw refuse('conflict', 'registration_failed');
    try {
      await graphClientFromConfig(deps.config.meta).setTwoStepPin(token, row.phone_number_id, pin);
    } catch (error) {
      if (!(error instanceof GraphError)) throw error;
      throw error.kind === 'transient'
        ? refuse('unavailable', 'meta_unavailable', error)
        : refuse('upstream_refused', 'registration_failed', error);
    }
  }
  await storePin(deps.db, deps.config.keyring, row.id, pin);
  if (row.registration_state === 'needs_pin') await setRegistration(deps.db, row.id, { state: 'ready', error: null });
  return { pin, registration: await registrationOf(deps.db, await ownNumber(deps.db, businessId, phoneNumberId)) };
}
