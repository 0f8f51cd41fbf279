// Token health: a token is due for renewal TOKEN_EXPIRY_THRESHOLD_DAYS before it expires; one
// without an expiry never is. The stored health, the check's answer and the status JSON all ask here.
import type { TokenHealthState } from '../store/tables.js';

const DAY_MS = 86_400_000;

/** When renewal is due, or null for a token that never expires. */
export function renewalDueAt(expiresAt: Date | null, thresholdDays: number): Date | null {
  return expiresAt ? new Date(expiresAt.getTime() - thresholdDays * DAY_MS) : null;
}

/** Whether a token is within its renewal window at `now`. */
export function expiresSoon(expiresAt: Date | null, thresholdDays: number, now: Date = new Date()): boolean {
  const due = renewalDueAt(expiresAt, thresholdDays);
  return due !== null && due.getTime() <= now.getTime();
}

/** The health a newly stored token starts with. */
export function tokenHealthFor(
  expiresAt: Date | null,
  thresholdDays: number,
  now: Date = new Date(),
): TokenHealthState {
  return expiresSoon(expiresAt, thresholdDays, now) ? 'expiring' : 'ok';
}
