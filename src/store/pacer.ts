// The pacer every send to Meta's messages endpoint goes through: one token bucket per business
// number, kept in PostgreSQL (table send_pacing) so that every worker shares it, and run on
// PostgreSQL's clock so that they agree on time. A reservation is one statement.
//
// The bucket is a generic cell rate algorithm: one timestamp per number, `next_slot_at`, the time
// its slots are all free again. A send may go `burst - 1` intervals before its slot, so an idle
// number sends a small burst at once and then one message per interval. The interval is chosen so
// that no one second holds more than Meta's rate: `burst + (interval rate - 1) = rate`.
// https://developers.facebook.com/documentation/business-messaging/whatsapp/throughput
//
// A slot is reserved only when it is near (within `maxWaitMs`); otherwise nothing is written and the
// caller hears when to come back, so a send that waits elsewhere (a Temporal retry) holds no slot.
// A reserved slot whose send then does not happen is simply spent: the number sends a little less
// than it could for one interval.
import { preparedQuery, type Db, type PhoneNumberRow } from '../db.js';
import { numberSendRate } from '../meta/send-rate.js';
import { isCoexistence } from './coexistence.js';

/** What the pacer needs to know about a number: Meta's rate follows from it. */
export type PacedNumber = Pick<PhoneNumberRow, 'is_on_biz_app' | 'coexistence_onboarded_at' | 'throughput_level'>;

export type SendSlot =
  /** Reserved: send after `waitMs` (0 when the slot is now); `slot` (µs since the epoch) is the number's alone. */
  | { granted: true; waitMs: number; slot: number }
  /** Not reserved: the number's next free slot is `retryInMs` away, further than the caller waits. */
  | { granted: false; retryInMs: number };

/** A burst is what the number may send in a twentieth of a second, at least two messages. */
const BURST_SECONDS = 0.05;

function paceOf(messagesPerSecond: number) {
  const burst = Math.max(2, Math.round(messagesPerSecond * BURST_SECONDS));
  const intervalSeconds = 1 / (messagesPerSecond - burst + 1);
  return { intervalSeconds, burstSeconds: (burst - 1) * intervalSeconds };
}

// The conditional upsert re-reads the row under its lock, so concurrent reservations queue up and
// never share a slot. When it declines, the row stays locked by this statement, and the second
// branch reads it FOR UPDATE: the newest version, not the statement's older snapshot.
const RESERVE_SQL = `
WITH pace AS (
  SELECT ?::text AS number,
    make_interval(secs => ?::float8) AS step,
    make_interval(secs => ?::float8) AS ahead,
    make_interval(secs => ?::float8) AS max_wait
), reserved AS (
  INSERT INTO send_pacing AS p (phone_number_id, recipient, next_slot_at)
  SELECT number, '', clock_timestamp() + step FROM pace
  ON CONFLICT (phone_number_id, recipient) DO UPDATE
    SET next_slot_at = GREATEST(p.next_slot_at, clock_timestamp()) + (SELECT step FROM pace)
    WHERE GREATEST(p.next_slot_at, clock_timestamp()) - (SELECT ahead FROM pace)
      <= clock_timestamp() + (SELECT max_wait FROM pace)
  RETURNING p.next_slot_at
)
SELECT true AS granted,
  EXTRACT(EPOCH FROM (r.next_slot_at - pace.step - pace.ahead - clock_timestamp())) * 1000 AS wait_ms,
  EXTRACT(EPOCH FROM r.next_slot_at) * 1000000 AS slot
FROM reserved r, pace
UNION ALL
SELECT false, EXTRACT(EPOCH FROM (p.next_slot_at - pace.ahead - clock_timestamp())) * 1000, NULL
FROM pace, LATERAL (
  SELECT next_slot_at FROM send_pacing
  WHERE phone_number_id = pace.number AND recipient = '' AND NOT EXISTS (SELECT 1 FROM reserved)
  FOR UPDATE
) p`;

/**
 * Reserves the next send slot of a business number, if it is at most `maxWaitMs` away. One
 * statement; the caller sends after `waitMs`, or comes back in `retryInMs` without a slot.
 */
export async function reserveSendSlot(
  db: Db,
  phoneNumberId: string,
  number: PacedNumber | undefined,
  options: { maxWaitMs: number },
): Promise<SendSlot> {
  const rate = numberSendRate({
    coexistence: number ? isCoexistence(number) : false,
    throughputLevel: number?.throughput_level ?? null,
  });
  const { intervalSeconds, burstSeconds } = paceOf(rate);
  const [row] = await preparedQuery<{ granted: boolean; wait_ms: string; slot: string | null }>(db, RESERVE_SQL, [
    phoneNumberId,
    intervalSeconds,
    burstSeconds,
    options.maxWaitMs / 1000,
  ]);
  // No row at all: the number's first reservations raced, and the row the others inserted is newer
  // than this statement's snapshot. Its slots are at least `maxWaitMs` out, or this one would have had one.
  if (!row) return { granted: false, retryInMs: Math.max(options.maxWaitMs, 1) };
  const ms = Math.max(0, Math.ceil(Number(row.wait_ms)));
  return row.granted
    ? { granted: true, waitMs: ms, slot: Number(row.slot) }
    : { granted: false, retryInMs: Math.max(ms, 1) };
}
