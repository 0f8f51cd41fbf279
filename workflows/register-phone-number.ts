// RegisterPhoneNumber: one number's Cloud API registration, asked for by the business. Its input
// is our number row id; the PIN stays in PostgreSQL, read by the activity.
import { log, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { RegistrationOutcome } from '../activities/registration.js';
import { db, registrationCall } from './policies.js';
import { DEFAULT_CALL_TIMEOUTS, type CallTimeouts } from '../src/temporal/timeouts.js';

export interface RegisterInput {
  numberId: string;
  timeouts?: CallTimeouts;
}

/** Registers, recording each outcome on the number; never fails the caller for Meta's answer. */
export async function registerNumbers(numberIds: string[], timeouts: CallTimeouts): Promise<RegistrationOutcome[]> {
  const { registerPhoneNumber: register } = proxyActivities<Activities>(registrationCall(timeouts));
  const outcomes: RegistrationOutcome[] = [];
  for (const numberId of numberIds) {
    try {
      outcomes.push(await register({ numberId }));
    } catch (error) {
      log.warn('registration still failing after retries', { numberId, error: String(error) });
      await db.recordRegistrationFailure({ numberId }).catch(() => undefined);
      outcomes.push({ state: 'failed', code: 'meta_unavailable' });
    }
  }
  return outcomes;
}

export async function registerPhoneNumber(input: RegisterInput): Promise<RegistrationOutcome> {
  const [outcome] = await registerNumbers([input.numberId], input.timeouts ?? DEFAULT_CALL_TIMEOUTS);
  return outcome!;
}
