// Embedded Signup session events a business records, at most so many per hour: the dashboard
// forwards them unauthenticated by Meta, so their number is bounded per business.
import type { Knex } from 'knex';
import type { Db } from '../db.js';
import type { SignupEventRow } from './tables.js';

export type SignupEventInput = Pick<SignupEventRow, 'business_id' | 'event'> &
  Partial<Pick<SignupEventRow, 'current_step' | 'error_message' | 'error_code' | 'session_id' | 'phone_number_id'>>;

/**
 * Serializes the business's event writes (a transaction-scoped advisory lock) and answers how many
 * seconds until one more event fits in its hour; 0 when it fits now.
 */
export async function signupEventWaitSeconds(
  trx: Knex.Transaction,
  businessId: string,
  perHour: number,
): Promise<number> {
  await trx.raw('SELECT pg_advisory_xact_lock(hashtextextended(?, 0))', [`signup_events:${businessId}`]);
  // The perHour-th newest event of the hour, if there is one: the next fits once it ages out.
  const row = await trx('signup_events')
    .where({ business_id: businessId })
    .andWhere('created_at', '>', trx.raw("now() - interval '1 hour'"))
    .orderBy('created_at', 'desc')
    .offset(perHour - 1)
    .first<{ wait: number } | undefined>(
      trx.raw("ceil(extract(epoch FROM created_at + interval '1 hour' - now()))::int AS wait"),
    );
  return row ? Math.max(1, row.wait) : 0;
}

export type SignupEventOutcome = { recorded: true } | { recorded: false; retryAfterSeconds: number };

/** Records the event unless the business's hour is full; then answers the seconds to wait. */
export async function recordSignupEvent(db: Db, event: SignupEventInput, perHour: number): Promise<SignupEventOutcome> {
  return db.transaction(async (trx) => {
    const wait = await signupEventWaitSeconds(trx, event.business_id, perHour);
    if (wait > 0) return { recorded: false, retryAfterSeconds: wait };
    await trx('signup_events').insert(event);
    return { recorded: true };
  });
}

/** The business's last Embedded Signup session that was abandoned (CANCEL or ERROR). */
export async function lastAbandonedSignup(db: Db, businessId: string): Promise<SignupEventRow | undefined> {
  return db('signup_events')
    .where({ business_id: businessId })
    .whereIn('event', ['CANCEL', 'ERROR'])
    .orderBy('id', 'desc')
    .first();
}
