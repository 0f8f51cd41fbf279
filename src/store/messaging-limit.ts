// Meta's messaging limit: how many different WhatsApp users a business portfolio may message
// outside the customer service window (business-initiated, template sends) in a moving 24 hours.
// Every number of the portfolio shares it. Meta does not tell us the portfolio, so we group by what
// we know: the numbers of one integration (the WABAs one business connected) count as one
// portfolio. Numbers of one portfolio connected through two integrations are counted twice, each
// against the whole limit; a WABA of another portfolio connected in the same integration shares ours.
// https://developers.facebook.com/documentation/business-messaging/whatsapp/messaging-limits
import type { Db } from '../db.js';
import { recipientKey } from './pacer.js';
import type { PhoneNumberRow } from './tables.js';

const WINDOW_HOURS = 24;

/** Meta's limit values (number fields and the quality webhook) and how many recipients each allows. */
const TIERS: Record<string, number> = {
  TIER_50: 50,
  TIER_250: 250,
  TIER_1K: 1_000,
  TIER_2K: 2_000,
  TIER_10K: 10_000,
  TIER_100K: 100_000,
  TIER_UNLIMITED: Number.POSITIVE_INFINITY,
};
/** A portfolio we know nothing about has what Meta gives a new one. */
const UNKNOWN_LIMIT = 250;

type LimitFields = Pick<
  PhoneNumberRow,
  'business_messaging_limit' | 'max_daily_conversations_per_business' | 'messaging_limit_tier'
>;

/** The portfolio's limit as the number last reported it, newest field first. */
function limitOf(number: LimitFields): number {
  for (const tier of [
    number.business_messaging_limit,
    number.max_daily_conversations_per_business,
    number.messaging_limit_tier,
  ]) {
    const limit = tier ? TIERS[tier] : undefined;
    if (limit !== undefined) return limit;
  }
  return UNKNOWN_LIMIT;
}

export type MessagingLimitClaim =
  | { admitted: true; portfolioKey: string; limit: number; alreadyCounted: boolean }
  | {
      admitted: false;
      reason: 'messaging_limit_reached';
      limit: number;
      /** When the portfolio's oldest counted recipient leaves the window, freeing a place. */
      retryAt: Date;
    }
  | { admitted: false; reason: 'unknown_number' };

/**
 * Admits one business-initiated send to `recipient` (wa_id or BSUID) from the number, when the
 * recipient already counts in the portfolio's window or the window holds fewer recipients than the
 * limit, and records it; otherwise answers when a place frees. Call it for sends outside the
 * customer service window only.
 *
 * One transaction of two statements: the portfolio's advisory lock, then one statement that counts
 * and records. The lock comes first because a statement's snapshot is taken before any lock it
 * waits for, so a count in the same statement could miss recipients admitted while it waited.
 */
export async function claimMessagingLimit(
  db: Db,
  input: { phoneNumberId: string; recipient: string },
): Promise<MessagingLimitClaim> {
  const number = await db('whatsapp_phone_numbers')
    .where({ phone_number_id: input.phoneNumberId, is_active: true })
    .first(
      'integration_id',
      'business_messaging_limit',
      'max_daily_conversations_per_business',
      'messaging_limit_tier',
    );
  if (!number) return { admitted: false, reason: 'unknown_number' };
  const portfolioKey = `integration:${number.integration_id}`;
  const limit = limitOf(number);
  const key = recipientKey(input.recipient);
  if (limit === Number.POSITIVE_INFINITY) return { admitted: true, portfolioKey, limit, alreadyCounted: false };
  return db.transaction(async (trx) => {
    await trx.raw('SELECT pg_advisory_xact_lock(hashtextextended(?, 0))', [`messaging-limit:${portfolioKey}`]);
    const { rows } = await trx.raw<{
      rows: Array<{ admitted: boolean; already: boolean; oldest: Date | null }>;
    }>(
      `WITH win AS (
         SELECT clock_timestamp() - make_interval(hours => ?) AS since
       ), counted AS (
         SELECT count(*) AS n, min(claimed_at) AS oldest FROM messaging_limit_recipients, win
         WHERE portfolio_key = ? AND claimed_at > win.since
       ), known AS (
         SELECT true AS already FROM messaging_limit_recipients, win
         WHERE portfolio_key = ? AND recipient_key = ? AND claimed_at > win.since
       ), admitted AS (
         INSERT INTO messaging_limit_recipients (portfolio_key, recipient_key, phone_number_id, claimed_at)
         SELECT ?, ?, ?, clock_timestamp() FROM counted
         WHERE EXISTS (SELECT 1 FROM known) OR counted.n < ?
         ON CONFLICT (portfolio_key, recipient_key) DO UPDATE
           SET claimed_at = excluded.claimed_at, phone_number_id = excluded.phone_number_id
         RETURNING 1
       ), expired AS (
         DELETE FROM messaging_limit_recipients USING win
         WHERE portfolio_key = ? AND claimed_at <= win.since
           AND recipient_key <> ?
       )
       SELECT EXISTS (SELECT 1 FROM admitted) AS admitted, EXISTS (SELECT 1 FROM known) AS already,
         (SELECT oldest FROM counted) AS oldest`,
      [WINDOW_HOURS, portfolioKey, portfolioKey, key, portfolioKey, key, input.phoneNumberId, limit, portfolioKey, key],
    );
    const row = rows[0]!;
    if (row.admitted) return { admitted: true, portfolioKey, limit, alreadyCounted: row.already };
    const oldest = row.oldest ?? new Date();
    return {
      admitted: false,
      reason: 'messaging_limit_reached',
      limit,
      retryAt: new Date(oldest.getTime() + WINDOW_HOURS * 3_600_000),
    };
  });
}
