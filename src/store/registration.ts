// A number's Cloud API registration: its state and last error, the business's two-step PIN
// (ciphertext, read back only by the registration activity and the PIN routes), and our register
// calls counted in Meta's rolling window of 10 per number in 72 hours.
import { decryptText, encryptText, type Keyring } from '../crypto.js';
import type { Db } from '../db.js';
import { REGISTRATION_ERRORS, type RegistrationErrorCode } from '../errors.js';
import { decideRegistration, type RegistrationDecision } from '../meta/registration.js';
import type { PhoneNumberRow } from './tables.js';

export type RegistrationState =
  | 'registered'
  | 'not_needed'
  | 'needs_pin'
  /** A PIN is known and the number is not registered yet: a retry registers it. */
  | 'ready'
  | 'pending'
  | 'failed'
  | 'blocked'
  | 'needs_verification';

/** Meta's documented limit: 10 register or deregister calls per number in a moving 72-hour window. */
const REGISTRATION_LIMIT = 10;
export const REGISTRATION_WINDOW_MS = 72 * 3_600_000;

export const pinAad = (numberId: string) => `whatsapp_phone_numbers.registration_pin:${numberId}`;

const STATE_BY_DECISION: Record<Exclude<RegistrationDecision, 'register'>, RegistrationState> = {
  registered: 'registered',
  coexistence: 'not_needed',
  blocked: 'blocked',
  needs_verification: 'needs_verification',
};

export function decisionOf(row: PhoneNumberRow): RegistrationDecision {
  return decideRegistration({
    platformType: row.platform_type,
    status: row.meta_status,
    codeVerificationStatus: row.code_verification_status,
    // Onboarded from the WhatsApp Business app (Meta's flag, or the signup's session event).
    isOnBizApp: row.is_on_biz_app || row.coexistence_onboarded_at !== null,
  }).decision;
}

/** The state the table gives a number, before any register call. */
export function stateFromFacts(row: PhoneNumberRow): RegistrationState {
  const decision = decisionOf(row);
  if (decision !== 'register') return STATE_BY_DECISION[decision];
  return row.registration_pin ? 'ready' : 'needs_pin';
}

export async function numberById(db: Db, numberId: string): Promise<PhoneNumberRow | undefined> {
  return db('whatsapp_phone_numbers').where({ id: numberId }).first();
}

/** The business's active number with this Meta id, or undefined (another business's numbers included). */
export async function numberOfBusiness(
  db: Db,
  businessId: string,
  phoneNumberId: string,
): Promise<PhoneNumberRow | undefined> {
  return db('whatsapp_phone_numbers as n')
    .join('channel_integrations as i', 'i.id', 'n.integration_id')
    .where({
      'i.business_id': businessId,
      'i.is_active': true,
      'n.is_active': true,
      'n.phone_number_id': phoneNumberId,
    })
    .first('n.*');
}

export async function activeNumbersOf(db: Db, integrationId: string): Promise<PhoneNumberRow[]> {
  return db('whatsapp_phone_numbers').where({ integration_id: integrationId, is_active: true }).orderBy('id');
}

export interface RegistrationChange {
  state: RegistrationState;
  error?: { code: RegistrationErrorCode; metaCode?: number | null } | null;
  blockedUntil?: Date | null;
  /** Registered: what Meta now reports for the number. */
  registered?: boolean;
}

export async function setRegistration(db: Db, numberId: string, change: RegistrationChange): Promise<void> {
  const now = new Date();
  await db('whatsapp_phone_numbers')
    .where({ id: numberId })
    .update({
      registration_state: change.state,
      registration_error_code: change.error?.code ?? null,
      registration_error_message: change.error ? REGISTRATION_ERRORS[change.error.code] : null,
      registration_meta_code: change.error?.metaCode ?? null,
      ...(change.blockedUntil !== undefined ? { registration_blocked_until: change.blockedUntil } : {}),
      ...(change.registered
        ? { platform_type: 'CLOUD_API', meta_status: 'CONNECTED', registered_at: now, registration_blocked_until: null }
        : {}),
      registration_updated_at: now,
      updated_at: now,
    });
}

/** A send failed with 133010: the number is no longer registered at Meta. */
export async function flagNotRegistered(db: Db, integrationId: string, phoneNumberId: string): Promise<void> {
  const now = new Date();
  await db('whatsapp_phone_numbers')
    .where({ integration_id: integrationId, phone_number_id: phoneNumberId, is_active: true })
    .whereNot({ is_on_biz_app: true })
    .whereNull('coexistence_onboarded_at')
    .update({
      registration_state: 'failed',
      registration_error_code: 'number_not_registered',
      registration_error_message: REGISTRATION_ERRORS.number_not_registered,
      registration_meta_code: 133010,
      platform_type: 'NOT_APPLICABLE',
      meta_status: null,
      registration_updated_at: now,
      updated_at: now,
    });
}

export async function storePin(db: Db, keyring: Keyring, numberId: string, pin: string): Promise<void> {
  const now = new Date();
  await db('whatsapp_phone_numbers')
    .where({ id: numberId })
    .update({ registration_pin: encryptText(keyring, pin, pinAad(numberId)), updated_at: now });
}

export async function readPin(db: Db, keyring: Keyring, numberId: string): Promise<string | undefined> {
  const row = await db('whatsapp_phone_numbers').where({ id: numberId }).first('registration_pin');
  return row?.registration_pin ? decryptText(keyring, row.registration_pin, pinAad(numberId)) : undefined;
}

export interface Budget {
  attemptsLeft: number;
  /** When the next call is allowed; null while attempts are left and Meta has not blocked the number. */
  retryAfter: Date | null;
}

function budgetFrom(attempts: { count: number; oldest: Date | null }, blockedUntil: Date | null, now: number): Budget {
  if (blockedUntil && blockedUntil.getTime() > now) return { attemptsLeft: 0, retryAfter: blockedUntil };
  const attemptsLeft = Math.max(0, REGISTRATION_LIMIT - attempts.count);
  const retryAfter =
    attemptsLeft === 0 && attempts.oldest ? new Date(attempts.oldest.getTime() + REGISTRATION_WINDOW_MS) : null;
  return { attemptsLeft, retryAfter };
}

/** Each number's budget (by Meta's phone number id), from our calls in the window. */
export async function budgetsOf(
  db: Db,
  numbers: Array<Pick<PhoneNumberRow, 'phone_number_id' | 'registration_blocked_until'>>,
  now = Date.now(),
): Promise<Map<string, Budget>> {
  const ids = [...new Set(numbers.map((n) => n.phone_number_id))];
  const rows: Array<{ phone_number_id: string; count: number; oldest: Date | null }> =
    ids.length === 0
      ? []
      : await db('phone_number_registration_attempts')
          .whereIn('phone_number_id', ids)
          .andWhere('attempted_at', '>', new Date(now - REGISTRATION_WINDOW_MS))
          .groupBy('phone_number_id')
          .select('phone_number_id')
          .count<Array<{ phone_number_id: string; count: number }>>('* as count')
          .min('attempted_at as oldest');
  const byId = new Map(rows.map((r) => [r.phone_number_id, { count: Number(r.count), oldest: r.oldest }]));
  return new Map(
    numbers.map((n) => [
      n.phone_number_id,
      budgetFrom(byId.get(n.phone_number_id) ?? { count: 0, oldest: null }, n.registration_blocked_until, now),
    ]),
  );
}

/**
 * Takes one attempt from the number's budget before calling Meta, or says when one frees up.
 * Serialized per number, so two concurrent registrations can never both take the last attempt.
 */
export async function reserveAttempt(
  db: Db,
  row: Pick<PhoneNumberRow, 'phone_number_id' | 'registration_blocked_until'>,
): Promise<{ attemptId: number } | { refused: Budget }> {
  return db.transaction(async (trx) => {
    await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', [`registration:${row.phone_number_id}`]);
    const budget = (await budgetsOf(trx, [row])).get(row.phone_number_id)!;
    if (budget.attemptsLeft === 0) return { refused: budget };
    const [inserted] = await trx('phone_number_registration_attempts')
      .insert({ phone_number_id: row.phone_number_id })
      .returning('id');
    return { attemptId: inserted!.id };
  });
}

/** What Meta answered to an attempt; an attempt that never left us gives its place back. */
export async function settleAttempt(
  db: Db,
  attemptId: number,
  outcome: { metaCode: number | null } | 'not_sent',
): Promise<void> {
  const attempt = db('phone_number_registration_attempts').where({ id: attemptId });
  if (outcome === 'not_sent') await attempt.delete();
  else await attempt.update({ meta_code: outcome.metaCode });
}

export interface RegistrationView {
  state: RegistrationState;
  code: RegistrationErrorCode | null;
  message: string | null;
  metaCode: number | null;
  pinSet: boolean;
  attemptsLeft: number;
  retryAfter: string | null;
}

/** The number's registration as status shows it: never the PIN, only whether one is set. */
export function registrationView(row: PhoneNumberRow, budget: Budget | undefined): RegistrationView {
  let state = (row.registration_state as RegistrationState | null) ?? stateFromFacts(row);
  if (state === 'needs_pin' && row.registration_pin) state = 'ready';
  const code = (row.registration_error_code as RegistrationErrorCode | null) ?? null;
  return {
    state,
    code,
    message: code ? REGISTRATION_ERRORS[code] : null,
    metaCode: row.registration_meta_code,
    pinSet: Boolean(row.registration_pin),
    attemptsLeft: budget?.attemptsLeft ?? REGISTRATION_LIMIT,
    retryAfter: budget?.retryAfter?.toISOString() ?? null,
  };
}
