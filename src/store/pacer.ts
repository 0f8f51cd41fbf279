// The pacer every send to Meta's messages endpoint goes through: one token bucket per business
// number and one per (number, recipient), kept in PostgreSQL (table send_pacing) so that every
// worker shares them, and run on PostgreSQL's clock so that they agree on time. A reservation is
// one statement: it takes the number's slot and the recipient's slot together, or neither.
//
// Each bucket is a generic cell rate algorithm: one timestamp per row, `next_slot_at`, the time its
// slots are all free again. A number's send may go `burst - 1` intervals before its slot, so an
// idle number sends a small burst at once and then one message per interval; the interval is
// chosen so that no one second holds more than Meta's rate: `burst + (interval rate - 1) = rate`.
// A recipient's bucket has no burst: one message per pair interval (Meta's pair rate). A send takes
// the number's next slot only if the recipient is free by then; otherwise it hears when the
// recipient is, and the number's slot stays for others (a number slot held for a later time would
// leave a hole in the number's pace, or put two sends in one slot).
// https://developers.facebook.com/documentation/business-messaging/whatsapp/throughput
//
// A slot is reserved only when it is near (within `maxWaitMs`); otherwise nothing is written and the
// caller hears when to come back, so a send that waits elsewhere (a Temporal retry) holds no slot.
// A reserved slot whose send then does not happen is simply spent.
//
// Priority: a bulk send (API and template sends) waits for nothing and may not use the last slot
// of the number's burst, which therefore is always there for a reply or an agent's message.
import { sha256Hex } from '../crypto.js';
import { preparedQuery, type Db } from '../db.js';
import { numberSendRate, PAIR_INTERVAL_SECONDS } from '../meta/send-rate.js';
import { isCoexistence } from './coexistence.js';
import type { PhoneNumberRow } from './tables.js';

/** What the pacer needs to know about a number: Meta's rate follows from it. */
export type PacedNumber = Pick<PhoneNumberRow, 'is_on_biz_app' | 'coexistence_onboarded_at' | 'throughput_level'> &
  Partial<Pick<PhoneNumberRow, 'send_rate_limit_mps'>>;

/** Replies and agents' messages go first; bulk sends take what they leave. */
export type SendPriority = 'reply' | 'agent' | 'bulk';

export type SendSlot =
  /** Reserved: send after `waitMs` (0 when the slot is now); `slot` (µs since the epoch) is the number's alone. */
  | { granted: true; waitMs: number; slot: number }
  /** Not reserved: the next free slot is `retryInMs` away, further than the caller waits. */
  | { granted: false; retryInMs: number };

/** A burst is what the number may send in a twentieth of a second, at least two messages. */
const BURST_SECONDS = 0.05;

function paceOf(messagesPerSecond: number) {
  const burst = Math.max(2, Math.round(messagesPerSecond * BURST_SECONDS));
  const intervalSeconds = 1 / (messagesPerSecond - burst + 1);
  return { intervalSeconds, burstSeconds: (burst - 1) * intervalSeconds };
}

/**
 * The key of a recipient's row: a SHA-256 of the wa_id or BSUID the send addresses, so that the
 * pacer's table holds no phone number (its rows outlive no erasure: idle ones are deleted).
 */
export function recipientKey(recipient: string): string {
  return sha256Hex(recipient);
}

// `num` locks the number's row and reads its newest version (FOR UPDATE in READ COMMITTED), so
// every reservation of one number runs after the one before, recipient rows included; the clock is
// read after that lock. `pair` upserts the recipient's row only when the number's slot is near and
// the recipient is free by then; `taken` then moves the number's row. Neither moves without the other.
// When declined, the recipient's row is read FOR UPDATE: its newest version, not the snapshot's.
const RESERVE_SQL = `
WITH pace AS (
  SELECT ?::text AS number, ?::text AS recipient,
    make_interval(secs => ?::float8) AS step,
    make_interval(secs => ?::float8) AS ahead,
    make_interval(secs => ?::float8) AS pair_step,
    make_interval(secs => ?::float8) AS max_wait
), num AS (
  SELECT p.next_slot_at FROM send_pacing p, pace
  WHERE p.phone_number_id = pace.number AND p.recipient = ''
  FOR UPDATE OF p
), slot AS (
  SELECT t.now, GREATEST(t.now, num.next_slot_at - pace.ahead) AS at, num.next_slot_at
  FROM num, pace, LATERAL (SELECT clock_timestamp() AS now) t
), pair AS (
  INSERT INTO send_pacing AS p (phone_number_id, recipient, next_slot_at)
  SELECT pace.number, pace.recipient, slot.at + pace.pair_step FROM pace, slot
  WHERE pace.recipient IS NOT NULL AND slot.at <= slot.now + pace.max_wait
  ON CONFLICT (phone_number_id, recipient) DO UPDATE SET next_slot_at = excluded.next_slot_at
    WHERE p.next_slot_at <= excluded.next_slot_at - (SELECT pair_step FROM pace)
  RETURNING p.next_slot_at - (SELECT pair_step FROM pace) AS at
), chosen AS (
  SELECT at FROM pair
  UNION ALL
  SELECT slot.at FROM slot, pace WHERE pace.recipient IS NULL AND slot.at <= slot.now + pace.max_wait
), taken AS (
  UPDATE send_pacing p SET next_slot_at = GREATEST(slot.next_slot_at, chosen.at) + pace.step
  FROM slot, chosen, pace
  WHERE p.phone_number_id = pace.number AND p.recipient = ''
  RETURNING chosen.at, slot.now, p.next_slot_at
)
SELECT true AS granted, EXTRACT(EPOCH FROM (taken.at - taken.now)) * 1000 AS wait_ms,
  EXTRACT(EPOCH FROM taken.next_slot_at) * 1000000 AS slot
FROM taken
UNION ALL
SELECT false, EXTRACT(EPOCH FROM (CASE
    -- The recipient's row is newer than this statement's snapshot: a send to it was just reserved.
    WHEN r.next_slot_at IS NULL AND pace.recipient IS NOT NULL AND slot.at <= slot.now + pace.max_wait
      THEN slot.at + pace.pair_step
    ELSE GREATEST(slot.at, r.next_slot_at) END - slot.now)) * 1000, NULL
FROM slot CROSS JOIN pace LEFT JOIN LATERAL (
  SELECT next_slot_at FROM send_pacing
  WHERE phone_number_id = pace.number AND recipient = pace.recipient AND NOT EXISTS (SELECT 1 FROM taken)
  FOR UPDATE
) r ON true
WHERE NOT EXISTS (SELECT 1 FROM taken)`;

// A number's row is made once, by its first reservation; the statement above then finds it.
const NUMBER_ROW_SQL = `
INSERT INTO send_pacing (phone_number_id, recipient, next_slot_at) VALUES (?, '', clock_timestamp())
ON CONFLICT (phone_number_id, recipient) DO NOTHING`;

/**
 * Reserves the next send slot of a business number (and of the recipient, when given), if it is at
 * most `maxWaitMs` away. The caller sends after `waitMs`, or comes back in `retryInMs` without a slot.
 */
export async function reserveSendSlot(
  db: Db,
  phoneNumberId: string,
  number: PacedNumber | undefined,
  options: { maxWaitMs: number; recipient?: string | null; priority?: SendPriority },
): Promise<SendSlot> {
  const rate = numberSendRate({
    coexistence: number ? isCoexistence(number) : false,
    throughputLevel: number?.throughput_level ?? null,
    limit: number?.send_rate_limit_mps ?? null,
  });
  const { intervalSeconds, burstSeconds } = paceOf(rate);
  const bulk = options.priority === 'bulk';
  const values = [
    phoneNumberId,
    options.recipient ? recipientKey(options.recipient) : null,
    intervalSeconds,
    // A bulk send sees one slot less of the burst, and waits for none.
    bulk ? Math.max(0, burstSeconds - intervalSeconds) : burstSeconds,
    PAIR_INTERVAL_SECONDS,
    bulk ? 0 : options.maxWaitMs / 1000,
  ];
  type Row = { granted: boolean; wait_ms: string | null; slot: string | null };
  let [row] = await preparedQuery<Row>(db, RESERVE_SQL, values);
  if (!row) {
    await preparedQuery(db, NUMBER_ROW_SQL, [phoneNumberId]);
    [row] = await preparedQuery<Row>(db, RESERVE_SQL, values);
  }
  if (!row) return { granted: false, retryInMs: Math.max(options.maxWaitMs, 1) };
  const ms = Math.max(0, Math.ceil(Number(row.wait_ms ?? options.maxWaitMs)));
  return row.granted
    ? { granted: true, waitMs: ms, slot: Number(row.slot) }
    : { granted: false, retryInMs: Math.max(ms, 1) };
}

/** Rows of recipients idle this long are forgotten: a free slot and no row are the same thing. */
const IDLE_RECIPIENT_SECONDS = 10 * 60;

/** Deletes the number's recipient rows whose slots are long free; answers how many. */
export async function forgetIdleRecipients(db: Db, phoneNumberId: string): Promise<number> {
  return db('send_pacing')
    .where({ phone_number_id: phoneNumberId })
    .whereNot({ recipient: '' })
    .where('next_slot_at', '<', db.raw(`clock_timestamp() - make_interval(secs => ?)`, [IDLE_RECIPIENT_SECONDS]))
    .delete();
}
