// What the history recorder (npm run record:histories) and the replay test share: where the
// recorded histories live, the key their payloads are encrypted with, and the branches they prove.
import { join } from 'node:path';
import { projectRoot } from '../../src/paths.js';

export const HISTORIES_DIR = join(projectRoot, 'test', 'fixtures', 'histories');

// A key for these fixtures only: it protects nothing but test data.
export const FIXTURE_KEY = 'fixture:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=';

/** Every workflow branch `npm run record:histories` records today (file name without .json). */
export const RECORDED_BRANCHES = [
  'connect-happy-path',
  'connect-transient-retried',
  'connect-compensated',
  'register-number-registered',
  'register-number-refused',
  'business-app-sync',
  'template-sync',
  'send-message-sent',
  'send-message-refused',
  'inbound-replied',
  'inbound-waited-for-turn',
  'inbound-covered',
  'inbound-send-durable-after-quick-failures',
  'inbound-send-waited-on-unknown-outcome',
  'inbound-responder-fallback-to-rules',
  'inbound-cancelled-by-disconnect',
  'inbound-typing-repeated',
  'inbound-media-stored',
  'inbound-closed-agent',
  'inbound-brain-v2-several-messages',
  'inbound-brain-v2-handoff',
  'erasure-customer',
  'erasure-business',
  'retention-sweep',
  'retention-sweep-continued',
  'refresh-token-ok',
  'refresh-renewed-token',
  'refresh-flagged-reauth',
  'account-event',
  'disconnect',
] as const;

/**
 * Histories of workflow types no longer started (handleMessage by message content, recordStatuses),
 * recorded before intake moved into PostgreSQL. Executions of them may still be running during a
 * deploy, so their code stays registered and these keep replaying; they cannot be recorded again.
 */
export const LEGACY_BRANCHES = [
  'message-replied',
  'reply-waited-for-turn',
  'send-durable-after-quick-failures',
  'send-waited-on-unknown-outcome',
  'responder-fallback-to-rules',
  'message-cancelled-by-disconnect',
  'statuses-recorded',
] as const;

/** Every branch a recorded history must exist for. */
export const BRANCHES = [...RECORDED_BRANCHES, ...LEGACY_BRANCHES] as const;

export type Branch = (typeof RECORDED_BRANCHES)[number];
