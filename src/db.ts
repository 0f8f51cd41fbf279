// PostgreSQL through knex: the pool, the migration runner, and the typed rows of each table.
import { createHash } from 'node:crypto';
import knex, { type Knex } from 'knex';
import pg from 'pg';
import { migrationSource } from '../migrations/index.js';
import type { Logger } from './logger.js';

// Return bigint counts and ids as numbers (they stay far below 2^53 here) and timestamps as Date.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));
// bigint[] (a turn's message ids) likewise.
const BIGINT_ARRAY_OID = 1016 as Parameters<typeof pg.types.getTypeParser>[0];
const parseBigintArray = pg.types.getTypeParser(BIGINT_ARRAY_OID) as (value: string) => string[];
pg.types.setTypeParser(BIGINT_ARRAY_OID, (value: string) => parseBigintArray(value).map(Number));

export type Db = Knex;

/** PostgreSQL's own error fields that quote row values ("Key (wamid)=(...) already exists."). */
const VALUE_FIELDS = ['detail', 'where', 'internalQuery'] as const;

export function createDb(databaseUrl: string, options: { poolMax?: number; log?: Logger } = {}): Db {
  const log = options.log;
  const db = knex({
    // knex prints its warnings with console.log unless given a logger.
    log: {
      warn: (message: unknown) => log?.warn({ knex: String(message) }, 'database warning'),
      error: (message: unknown) => log?.error({ knex: String(message) }, 'database error'),
      deprecate: () => undefined,
      debug: () => undefined,
    },
    client: 'pg',
    // Errors name the statement, never the bound values (message text, tokens, phone numbers).
    compileSqlOnError: false,
    connection: { connectionString: databaseUrl, application_name: 'waconnect' },
    pool: { min: 0, max: options.poolMax ?? 10 },
    acquireConnectionTimeout: 10_000,
  });
  // Runs before the query's promise rejects, so no caller (or log line) ever sees the values.
  db.on('query-error', (error: unknown) => {
    if (!error || typeof error !== 'object') return;
    for (const field of VALUE_FIELDS) delete (error as Record<string, unknown>)[field];
  });
  return db;
}

interface PreparedStatement {
  name: string;
  text: string;
}
const preparedStatements = new Map<string, PreparedStatement>();

/**
 * Runs one autocommit statement as a named prepared statement, so PostgreSQL parses and plans it
 * once per connection instead of on every call: for the few hot-path statements (webhook intake)
 * whose planning costs more than their execution. Placeholders are `?` as in `db.raw`; values are
 * always bound. Errors are stripped of quoted values like every other query's, and `query`
 * listeners see the statement as they see any other.
 */
export async function preparedQuery<Row>(db: Db, text: string, values: unknown[]): Promise<Row[]> {
  let statement = preparedStatements.get(text);
  if (!statement) {
    let n = 0;
    const native = text.replace(/\?/g, () => `$${++n}`);
    statement = { name: `waconnect_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`, text: native };
    preparedStatements.set(text, statement);
  }
  if ((statement.text.match(/\$\d+/g) ?? []).length !== values.length)
    throw new Error('preparedQuery: the number of values does not match the placeholders');
  db.emit('query', { sql: statement.text, method: 'raw', bindings: [] });
  const client = db.client as {
    acquireConnection(): Promise<pg.PoolClient>;
    releaseConnection(connection: pg.PoolClient): Promise<void>;
  };
  const connection = await client.acquireConnection();
  try {
    const result = await connection.query<Row & pg.QueryResultRow>({
      name: statement.name,
      text: statement.text,
      values,
    });
    return result.rows;
  } catch (error) {
    if (error && typeof error === 'object')
      for (const field of VALUE_FIELDS) delete (error as Record<string, unknown>)[field];
    throw error;
  } finally {
    await client.releaseConnection(connection);
  }
}

export async function migrateLatest(db: Db): Promise<string[]> {
  const [, applied] = (await db.migrate.latest({ migrationSource })) as [number, string[]];
  return applied;
}

export async function migrateRollback(db: Db, all = false): Promise<string[]> {
  const [, rolledBack] = (await db.migrate.rollback({ migrationSource }, all)) as [number, string[]];
  return rolledBack;
}

/** Runs `fn` on the server's `postgres` database with the name of the URL's own, checked to be a plain identifier. */
async function onServer(databaseUrl: string, verb: string, fn: (client: pg.Client, name: string) => Promise<void>) {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.slice(1));
  if (!/^[A-Za-z0-9_]+$/.test(name)) throw new Error(`refusing to ${verb} database with name "${name}"`);
  url.pathname = '/postgres';
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    await fn(client, name);
  } finally {
    await client.end();
  }
}

/** Creates the database named in the URL when it does not exist yet (connecting to `postgres`). */
export async function ensureDatabase(databaseUrl: string): Promise<void> {
  await onServer(databaseUrl, 'create', async (client, name) => {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE "${name}"`);
  });
}

export async function dropDatabase(databaseUrl: string): Promise<void> {
  await onServer(databaseUrl, 'drop', (client, name) =>
    client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).then(() => undefined),
  );
}

export type IntegrationState = 'active' | 'needs_reauth' | 'removed' | 'inactive';
export type TokenHealthState = 'ok' | 'expiring' | 'needs_reauth' | 'unknown';

export interface IntegrationRow {
  id: string;
  business_id: string;
  channel: string;
  channel_name: string;
  credentials: { accessToken: string } | null;
  is_active: boolean;
  state: IntegrationState;
  token_type: string | null;
  /** Ours, from Meta's type and expiry: see src/meta/token-kinds.ts. Null before it was first read. */
  token_kind: string | null;
  token_expires_at: Date | null;
  token_health: TokenHealthState;
  token_checked_at: Date | null;
  token_last_error: string | null;
  meta_user_id: string | null;
  settings: IntegrationSettings;
  connected_at: Date | null;
  disconnected_at: Date | null;
  inactive_reason: string | null;
  created_at: Date;
  updated_at: Date;
}

export interface IntegrationSettings {
  autoReplyText?: string;
  /** The greeting for a customer who opens the chat for the first time (Meta's request_welcome); none when unset. */
  welcomeText?: string;
  responder?: 'rules' | 'http';
  /** How long an owner's reply from the WhatsApp Business app pauses the bot in that conversation. */
  botPauseAfterOwnerReplyMs?: number;
  /** The AI brain's contract: 1 (default) or 2. */
  brainVersion?: 1 | 2;
  /** Version 2: how many of the conversation's earlier messages a request carries. */
  brainHistoryMessages?: number;
}

export interface SelfCheckRow {
  id: string;
  worker_identity: string;
  checked_at: Date;
}

export interface OAuthStateRow {
  id: string;
  state_hash: string;
  business_id: string;
  created_at: Date;
  expires_at: Date;
  used_at: Date | null;
  workflow_id: string | null;
  /** sha256 of the nonce in the browser's connect cookie; null for states minted before it existed. */
  nonce_hash: string | null;
}

export interface ConnectTicketRow {
  ticket_hash: string;
  business_id: string;
  created_at: Date;
  expires_at: Date;
  used_at: Date | null;
}

export type StagedKind = 'code' | 'user_token' | 'long_lived_token';

export interface TokenStagingRow {
  connect_id: string;
  kind: StagedKind;
  ciphertext: string;
  token_expires_at: Date | null;
  created_at: Date;
  purge_after: Date;
}

export type ConnectFlow = 'redirect' | 'popup';

export interface ConnectAttemptRow {
  workflow_id: string;
  business_id: string;
  flow: ConnectFlow;
  state: 'running' | 'succeeded' | 'failed';
  error_code: string | null;
  error_message: string | null;
  integration_id: string | null;
  started_at: Date;
  finished_at: Date | null;
}

export interface BusinessAccountRow {
  id: string;
  integration_id: string;
  waba_id: string;
  name: string | null;
  currency: string | null;
  timezone_id: string | null;
  is_active: boolean;
  subscribed_at: Date | null;
  subscription_checked_at: Date | null;
  subscription_state: 'unknown' | 'subscribed' | 'missing' | 'restored';
  account_status: string;
  account_status_detail: Record<string, unknown> | null;
  account_status_at: Date | null;
  /** Meta's ban_info of the last DISABLED_UPDATE: REINSTATE, SCHEDULE_FOR_DISABLE, DISABLE; the date as Meta writes it. */
  ban_state: string | null;
  ban_date: string | null;
  /** The template catalogue's last completed sync, and the last time one was asked for. */
  templates_synced_at: Date | null;
  templates_sync_requested_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export interface PhoneNumberRow {
  id: string;
  integration_id: string;
  account_id: string;
  waba_id: string;
  phone_number_id: string;
  display_phone_number: string | null;
  verified_name: string | null;
  quality_rating: string | null;
  messaging_limit_tier: string | null;
  /** The business portfolio's messaging limit as Meta reports it on the number (TIER_250 ... TIER_UNLIMITED). */
  business_messaging_limit: string | null;
  /** The portfolio's limit from the last webhook that carried it. */
  max_daily_conversations_per_business: string | null;
  /** Meta's throughput.level (STANDARD, HIGH, NOT_APPLICABLE): messages per second, not the limit. */
  throughput_level: string | null;
  /** An operator's cap on the number's send rate (messages per second), below Meta's; null: Meta's. */
  send_rate_limit_mps: number | null;
  name_status: string | null;
  code_verification_status: string | null;
  platform_type: string | null;
  meta_status: string | null;
  is_on_biz_app: boolean;
  coexistence_onboarded_at: Date | null;
  /** Meta offboarded the Cloud API side of this coexistence number (ACCOUNT_OFFBOARDED): no more replies. */
  coexistence_offboarded_at: Date | null;
  is_active: boolean;
  registered_at: Date | null;
  quality_event: string | null;
  quality_event_at: Date | null;
  registration_state: string | null;
  registration_error_code: string | null;
  registration_error_message: string | null;
  registration_meta_code: number | null;
  /** The business's two-step verification PIN, encrypted; never leaves an activity or the PIN routes. */
  registration_pin: string | null;
  registration_blocked_until: Date | null;
  registration_updated_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export interface RegistrationAttemptRow {
  id: number;
  phone_number_id: string;
  attempted_at: Date;
  meta_code: number | null;
}

export interface AccountEventRow {
  id: number;
  event_key: string;
  field: string;
  waba_id: string;
  event: string | null;
  value: Record<string, unknown>;
  applied_to: Record<string, unknown> | null;
  received_at: Date;
}

export interface SignupEventRow {
  id: number;
  business_id: string;
  event: string;
  current_step: string | null;
  error_message: string | null;
  error_code: string | null;
  session_id: string | null;
  /** The number a FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING session named. */
  phone_number_id: string | null;
  created_at: Date;
}

/** A business number's send pacing (recipient '' is the number's own bucket). */
export interface SendPacingRow {
  phone_number_id: string;
  recipient: string;
  next_slot_at: Date;
}

export interface MessagingLimitRecipientRow {
  portfolio_key: string;
  recipient_key: string;
  phone_number_id: string;
  claimed_at: Date;
}

declare module 'knex/types/tables.js' {
  interface Tables {
    channel_integrations: IntegrationRow;
    self_checks: SelfCheckRow;
    oauth_states: OAuthStateRow;
    connect_tickets: ConnectTicketRow;
    token_staging: TokenStagingRow;
    connect_attempts: ConnectAttemptRow;
    whatsapp_business_accounts: BusinessAccountRow;
    whatsapp_phone_numbers: PhoneNumberRow;
    account_events: AccountEventRow;
    signup_events: SignupEventRow;
    phone_number_registration_attempts: RegistrationAttemptRow;
    send_pacing: SendPacingRow;
    messaging_limit_recipients: MessagingLimitRecipientRow;
  }
}
