// What the history recorder (npm run record:histories) and the replay test share: where the
// recorded histories live, the key their payloads are encrypted with, and the branches they prove.
import { join } from 'node:path';
import { projectRoot } from '../../src/paths.js';

export const HISTORIES_DIR = join(projectRoot, 'test', 'fixtures', 'histories');

// A key for these fixtures only: it protects nothing but test data.
export const FIXTURE_KEY = 'fixture:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=';

/**
 * Every workflow branch a recorded history must exist for (file name without .json). Histories of
 * workflows no longer started (RecordStatuses: statuses are recorded at intake) stay in the folder
 * and replay, for the executions that may still run.
 */
export const BRANCHES = [
  'connect-happy-path',
  'connect-transient-retried',
  'connect-compensated',
  'message-replied',
  'reply-waited-for-turn',
  'send-durable-after-quick-failures',
  'send-waited-on-unknown-outcome',
  'responder-fallback-to-rules',
  'message-cancelled-by-disconnect',
  'refresh-token-ok',
  'refresh-renewed-token',
  'refresh-flagged-reauth',
  'account-event',
  'disconnect',
] as const;

export type Branch = (typeof BRANCHES)[number];
