// Cloud API registration of a number (POST /{phone-number-id}/register). The PIN never travels
// through Temporal: the activity reads it from PostgreSQL. Meta's refusals become the number's
// recorded state, never a failure; only a Meta outage is retried (and counted against the budget).
import { GraphError, registrationCodeOf } from '../src/meta/graph-errors.js';
import { markNeedsReauth, readIntegrationToken } from '../src/store/integrations.js';
import {
  activeNumbersOf,
  decisionOf,
  numberById,
  readPin,
  REGISTRATION_WINDOW_MS,
  reserveAttempt,
  setRegistration,
  settleAttempt,
  stateFromFacts,
  type RegistrationState,
} from '../src/store/registration.js';
import type { RegistrationErrorCode } from '../src/errors.js';
import { toActivityFailure } from '../src/temporal/failures.js';
import type { ActivityDeps } from './deps.js';

export interface RegistrationOutcome {
  state: RegistrationState;
  code: RegistrationErrorCode | null;
}

export function createRegistrationActivities({ db, graph, config }: ActivityDeps) {
  const keyring = config.keyring;

  return {
    /**
     * Gives every active number of a just-saved integration its state from the decision table, and
     * answers the ids (our row ids) of those to register now: the table says register and a PIN is known.
     */
    async planRegistrations(input: { integrationId: string }): Promise<string[]> {
      const toRegister: string[] = [];
      for (const row of await activeNumbersOf(db, input.integrationId)) {
        const state = stateFromFacts(row);
        if (state === 'ready') toRegister.push(row.id);
        await setRegistration(db, row.id, { state: state === 'ready' ? 'pending' : state, error: null });
      }
      return toRegister;
    },

    /** Registers one number with its stored PIN, within the budget; records what Meta said. */
    async registerPhoneNumber(input: { numberId: string }): Promise<RegistrationOutcome> {
      const row = await numberById(db, input.numberId);
      if (!row?.is_active) return { state: 'failed', code: 'number_not_found' };
      if (decisionOf(row) !== 'register') {
        const state = stateFromFacts(row);
        await setRegistration(db, row.id, { state, error: null });
        return { state, code: null };
      }
      const pin = await readPin(db, keyring, row.id);
      if (!pin) {
        await setRegistration(db, row.id, { state: 'needs_pin', error: { code: 'needs_pin' } });
        return { state: 'needs_pin', code: 'needs_pin' };
      }
      const token = await readIntegrationToken(db, keyring, row.integration_id);
      if (!token) {
        await setRegistration(db, row.id, { state: 'failed', error: { code: 'registration_failed' } });
        return { state: 'failed', code: 'registration_failed' };
      }
      const reserved = await reserveAttempt(db, row);
      if ('refused' in reserved) {
        await setRegistration(db, row.id, { state: 'failed', error: { code: 'registration_budget_spent' } });
        return { state: 'failed', code: 'registration_budget_spent' };
      }
      try {
        await graph.registerNumber(token, row.phone_number_id, pin);
      } catch (error) {
        if (!(error instanceof GraphError)) throw error;
        await settleAttempt(
          db,
          reserved.attemptId,
          error.outcome === 'not_sent' ? 'not_sent' : { metaCode: error.code ?? null },
        );
        if (error.kind === 'transient') {
          await setRegistration(db, row.id, { state: 'pending', error: { code: 'meta_unavailable' } });
          throw toActivityFailure(error);
        }
        if (error.kind === 'reauth') await markNeedsReauth(db, row.integration_id, error.summary);
        const code: RegistrationErrorCode = registrationCodeOf(error) ?? 'registration_failed';
        await setRegistration(db, row.id, {
          state: 'failed',
          error: { code, metaCode: error.code ?? null },
          // Meta's window is rolling and counts calls we never saw: wait a whole window from now.
          ...(code === 'registration_rate_limited'
            ? { blockedUntil: new Date(Date.now() + REGISTRATION_WINDOW_MS) }
            : {}),
        });
        return { state: 'failed', code };
      }
      await settleAttempt(db, reserved.attemptId, { metaCode: null });
      await setRegistration(db, row.id, { state: 'registered', error: null, registered: true });
      return { state: 'registered', code: null };
    },

    /** Meta stayed unavailable through every retry: the number waits for the business to retry. */
    async recordRegistrationFailure(input: { numberId: string }): Promise<void> {
      await setRegistration(db, input.numberId, { state: 'failed', error: { code: 'meta_unavailable' } });
    },
  };
}
