// `npm start` needs keys and secrets on a laptop that has none configured: it generates them once
// into .data/dev-secrets.json (git-ignored) so a restart can still read its rows and histories.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { generateKeyringEntry, randomToken } from '../crypto.js';

export interface DevSecrets {
  CREDENTIALS_ENCRYPTION_KEY: string;
  AUTH_JWT_SECRET: string;
  /** Signs the sandbox dashboard's sessions (never the tenant JWT secret). */
  SANDBOX_SESSION_SECRET: string;
  WHATSAPP_VERIFY_TOKEN: string;
  /** The sandbox app's secret: signs sandbox webhooks and authenticates our token calls. */
  META_APP_SECRET: string;
  POSTGRES_PASSWORD: string;
}

export function loadOrCreateDevSecrets(file: string): DevSecrets {
  const existing = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Partial<DevSecrets>) : {};
  const secrets: DevSecrets = {
    CREDENTIALS_ENCRYPTION_KEY: existing.CREDENTIALS_ENCRYPTION_KEY ?? generateKeyringEntry('dev1'),
    AUTH_JWT_SECRET: existing.AUTH_JWT_SECRET ?? randomToken(),
    SANDBOX_SESSION_SECRET: existing.SANDBOX_SESSION_SECRET ?? randomToken(),
    WHATSAPP_VERIFY_TOKEN: existing.WHATSAPP_VERIFY_TOKEN ?? randomToken(),
    META_APP_SECRET: existing.META_APP_SECRET ?? randomToken().slice(0, 32),
    POSTGRES_PASSWORD: existing.POSTGRES_PASSWORD ?? randomToken(),
  };
  if (JSON.stringify(secrets) !== JSON.stringify(existing)) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600 });
  }
  return secrets;
}
