// Secrets of one test run (or benchmark run), generated fresh, never committed.
import { randomBytes } from 'node:crypto';

export const TEST_SECRETS = {
  CREDENTIALS_ENCRYPTION_KEY: `test1:${randomBytes(32).toString('base64')}`,
  AUTH_JWT_SECRET: randomBytes(32).toString('base64url'),
  SANDBOX_SESSION_SECRET: randomBytes(32).toString('base64url'),
  WHATSAPP_VERIFY_TOKEN: randomBytes(16).toString('base64url'),
  META_APP_SECRET: randomBytes(16).toString('hex'),
} as const;
