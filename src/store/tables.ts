// Every table the migrations create, once: the row as a query reads it, and what an insert and an
// update may write, registered with knex so that `db('messages')` is typed by them. Values are as
// pg answers them here: bigint as number (src/db.ts parses int8 and bigint[]), timestamptz as Date,
// jsonb parsed. Queries with aliases (`'n.phone_number_id as phoneNumberId'`) are not typed by
// this: they state their own result types.
import type { Knex } from 'knex';
import type { MediaKind } from '../media/kinds.js';
import type { StatusEvent } from '../meta/webhook-payload.js';
import type { BrainHandoff } from '../reply/contract-v2.js';
import type { SyncState, SyncType } from './coexistence.js';
import type { ErasureScope, ErasureSource, ErasureState } from './erasures.js';
import type { InboundStatus, OutboundStatus } from './messages.js';

/** The columns whose type admits null: an insert may leave them out. */
type NullableColumns<Row> = { [K in keyof Row]-?: null extends Row[K] ? K : never }[keyof Row];

/**
 * A jsonb value as written: pg serialises an object itself, and JSON text goes as it is; an array
 * must go as JSON text, since pg would send a JavaScript array as a PostgreSQL array.
 */
type Json<T> = T extends readonly unknown[] ? string : T | string;

type Written<Row, K extends keyof Row, JsonColumns extends keyof Row> =
  (K extends JsonColumns ? Json<Row[K]> : Row[K]) | Knex.Raw;

/**
 * A row as an insert writes it: every column a value or SQL, `Defaulted` columns (PostgreSQL fills
 * them) and nullable ones optional, `JsonColumns` (jsonb) written as `Json`.
 */
type Insert<Row, Defaulted extends keyof Row = never, JsonColumns extends keyof Row = never> = {
  [K in keyof Row as K extends NullableColumns<Row> | Defaulted ? never : K]: Written<Row, K, JsonColumns>;
} & {
  [K in keyof Row as K extends NullableColumns<Row> | Defaulted ? K : never]?: Written<Row, K, JsonColumns>;
};

/** What an update may set: any column of the insert but the primary key. */
type Update<InsertRow, Key extends keyof InsertRow> = Partial<Omit<InsertRow, Key>>;

type Table<Row, InsertRow, Key extends keyof InsertRow> = Knex.CompositeTableType<
  Row,
  InsertRow,
  Update<InsertRow, Key>,
  Update<InsertRow, Key>
>;

// channel_integrations

export type IntegrationState = 'active' | 'needs_reauth' | 'removed' | 'inactive';
export type TokenHealthState = 'ok' | 'expiring' | 'needs_reauth' | 'unknown';

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

type IntegrationInsert = Insert<
  IntegrationRow,
  'id' | 'is_active' | 'state' | 'token_health' | 'settings' | 'created_at' | 'updated_at',
  'credentials' | 'settings'
>;

// self_checks

export interface SelfCheckRow {
  id: string;
  worker_identity: string;
  checked_at: Date;
}

// oauth_states, token_staging, connect_attempts, connect_tickets

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

export interface ConnectTicketRow {
  ticket_hash: string;
  business_id: string;
  created_at: Date;
  expires_at: Date;
  used_at: Date | null;
}

// whatsapp_business_accounts, whatsapp_phone_numbers

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

type BusinessAccountInsert = Insert<
  BusinessAccountRow,
  'id' | 'is_active' | 'subscription_state' | 'account_status' | 'created_at' | 'updated_at',
  'account_status_detail'
>;

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

type PhoneNumberInsert = Insert<PhoneNumberRow, 'id' | 'is_active' | 'is_on_biz_app' | 'created_at' | 'updated_at'>;

export interface RegistrationAttemptRow {
  id: number;
  phone_number_id: string;
  attempted_at: Date;
  meta_code: number | null;
}

// messages, message_statuses, webhook_errors

export interface MessageRow {
  id: number;
  direction: 'inbound' | 'outbound';
  wamid: string | null;
  integration_id: string | null;
  business_id: string | null;
  phone_number_id: string;
  customer_wa_id: string | null;
  customer_name: string | null;
  customer_id: number | null;
  conversation_id: number | null;
  sequence: number | null;
  turn_id: number | null;
  ordinal: number | null;
  type: string;
  body: string | null;
  content: Record<string, unknown> | null;
  sent_at: Date;
  status: InboundStatus | OutboundStatus;
  error: Record<string, unknown> | null;
  in_reply_to: number | null;
  responder: string | null;
  /** When the last send attempt started whose outcome is unknown. */
  attempt_started_at: Date | null;
  /** The text before the customer's first edit (null while unedited). */
  original_body: string | null;
  edited_at: Date | null;
  /** When the customer deleted (revoked) the message. */
  revoked_at: Date | null;
  /**
   * cloud_api, business_app (the owner's echo), history (imported from the app), api or template
   * (sent through our API), agent (a person's send through our API).
   */
  origin: 'cloud_api' | 'business_app' | 'history' | 'api' | 'template' | 'agent';
  /** An agent's send: the agent's id (the JWT subject). */
  agent_id: string | null;
  /** An API send's idempotency key (hashed) and the hash of its request. */
  idempotency_key_hash: string | null;
  request_hash: string | null;
  expires_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export type MessageInsert = Insert<MessageRow, 'id' | 'origin' | 'created_at' | 'updated_at', 'content' | 'error'>;

export interface MessageStatusRow {
  wamid: string;
  status: StatusEvent['status'];
  phone_number_id: string | null;
  recipient_id: string | null;
  recipient_user_id: string | null;
  callback_data: string | null;
  occurred_at: Date;
  errors: StatusEvent['errors'];
  pricing: Record<string, unknown> | null;
  conversation: Record<string, unknown> | null;
  received_at: Date;
}

export interface WebhookErrorRow {
  id: number;
  phone_number_id: string;
  waba_id: string | null;
  code: number | null;
  title: string | null;
  message: string | null;
  details: string | null;
  received_at: Date;
}

// account_events, signup_events

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

// customers, conversations, turns, conversation_events

export interface CustomerRow {
  id: number;
  business_id: string;
  bsuid: string | null;
  parent_bsuid: string | null;
  phone: string | null;
  profile_name: string | null;
  username: string | null;
  /** The name the owner saved for this contact in the WhatsApp Business app (smb_app_state_sync). */
  contact_name: string | null;
  /** user_preferences: whether the customer stopped or resumed marketing messages, when, and on which number. */
  marketing_preference: 'stopped' | 'resumed' | null;
  marketing_preference_at: Date | null;
  marketing_preference_phone_number_id: string | null;
  created_at: Date;
  updated_at: Date;
}

export interface ConversationRow {
  id: number;
  business_id: string;
  integration_id: string | null;
  phone_number_id: string;
  customer_id: number;
  /** The sequence of the last inbound message committed: sequence = commit order. */
  last_sequence: number;
  mode: 'bot' | 'agent';
  /** An owner's echo (coexistence) pauses the bot until then. */
  bot_paused_until: Date | null;
  /** The handoff in force while mode is agent: who took it, their note, when, and until when. */
  handoff_agent_id: string | null;
  handoff_note: string | null;
  handoff_at: Date | null;
  handoff_expires_at: Date | null;
  head_since: Date;
  merged_into: number | null;
  created_at: Date;
  updated_at: Date;
}

export interface TurnRow {
  id: number;
  conversation_id: number;
  head_message_id: number;
  message_ids: number[];
  reply_to_message_id: number;
  state: 'open' | 'done' | 'failed';
  outcome: string | null;
  /** A handoff the brain asked for, applied once the turn's last message is sent. */
  handoff: BrainHandoff | null;
  /** Why the brain's answer was not used (the turn was answered by the auto-reply instead). */
  responder_error: string | null;
  created_at: Date;
  closed_at: Date | null;
}

export interface ConversationEventRow {
  id: number;
  conversation_id: number;
  business_id: string;
  kind: 'handoff' | 'release';
  agent_id: string | null;
  expires_at: Date | null;
  created_at: Date;
}

// workflow_starts, rejected_items

export interface WorkflowStartRow {
  id: number;
  workflow_type: string;
  workflow_id: string;
  /** The deployment's base task queue: its workers drain its rows. */
  task_queue: string;
  args: unknown[];
  business_id: string | null;
  integration_id: string | null;
  message_id: number | null;
  /** Runs started so far. */
  attempts: number;
  /** Before this time the drain leaves the row alone. */
  available_at: Date;
  started_at: Date | null;
  done_at: Date | null;
  last_error: string | null;
  created_at: Date;
}

export interface RejectedItemRow {
  id: number;
  kind: string;
  reason: string;
  /** The item as JSON text: the form PostgreSQL refused may not fit a jsonb column. */
  raw: string;
  received_at: Date;
}

// business_app_syncs

export interface BusinessAppSyncRow {
  id: number;
  phone_number_row_id: string;
  sync_type: SyncType;
  state: SyncState;
  deadline_at: Date;
  request_id: string | null;
  attempts: number;
  last_error: string | null;
  requested_at: Date | null;
  /** History only: Meta's overall progress (0-100) and the last phase reported. */
  progress: number | null;
  phase: number | null;
  last_received_at: Date | null;
  completed_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

// template_events, message_templates

export interface TemplateEventRow {
  id: number;
  waba_id: string;
  message_template_id: string;
  name: string | null;
  language: string | null;
  field: string;
  event: string | null;
  reason: string | null;
  category: string | null;
  previous_category: string | null;
  new_category: string | null;
  correct_category: string | null;
  category_update_at: Date | null;
  previous_quality_score: string | null;
  new_quality_score: string | null;
  other_info: Record<string, unknown> | null;
  rejection_info: Record<string, unknown> | null;
  disable_date: Date | null;
  occurred_at: Date | null;
  event_key: string;
  value: Record<string, unknown>;
  received_at: Date;
}

export interface MessageTemplateRow {
  id: number;
  waba_id: string;
  message_template_id: string;
  name: string | null;
  language: string | null;
  status: string | null;
  status_reason: string | null;
  last_event: string | null;
  status_at: Date | null;
  category: string | null;
  pending_category: string | null;
  pending_category_at: Date | null;
  category_at: Date | null;
  quality_score: string | null;
  quality_at: Date | null;
  /** Meta's components array as GET /{waba-id}/message_templates answers it. */
  components: unknown[] | null;
  parameter_format: string | null;
  sub_category: string | null;
  rejected_reason: string | null;
  synced_at: Date | null;
  deleted_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

type MessageTemplateInsert = Insert<MessageTemplateRow, 'id' | 'created_at' | 'updated_at', 'components'>;
export type MessageTemplateUpdate = Update<MessageTemplateInsert, 'id'>;

// send_pacing, messaging_limit_recipients

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

// data_deletion_requests, erasures

export interface DataDeletionRequestRow {
  id: string;
  confirmation_code: string;
  user_hash: string;
  requested_at: Date;
}

export interface ErasureRow {
  id: string;
  business_id: string;
  scope: ErasureScope;
  subject_kind: 'phone' | 'bsuid' | 'business';
  subject_hash: string;
  /** The identifiers to find rows by, encrypted; null once the erasure is done. */
  target: string | null;
  source: ErasureSource;
  deletion_request_id: string | null;
  state: ErasureState;
  /** Rows deleted, by kind. */
  counts: Record<string, number>;
  requested_at: Date;
  started_at: Date | null;
  completed_at: Date | null;
  updated_at: Date;
}

// media

export type MediaState = 'pending' | 'stored' | 'failed';

export interface MediaRow {
  id: number;
  message_id: number;
  business_id: string;
  integration_id: string | null;
  kind: MediaKind;
  meta_media_id: string;
  mime_type: string | null;
  filename: string | null;
  size: number | null;
  /** Hex SHA-256 of the stored bytes. */
  sha256: string | null;
  storage_key: string | null;
  state: MediaState;
  failure_reason: string | null;
  created_at: Date;
  updated_at: Date;
}

// rate_limits: rate-limiter-flexible's own table (src/http writes it only through the library).

interface RateLimitRow {
  key: string;
  points: number;
  /** Epoch milliseconds. */
  expire: number | null;
}

declare module 'knex/types/tables.js' {
  interface Tables {
    channel_integrations: Table<IntegrationRow, IntegrationInsert, 'id'>;
    self_checks: Table<SelfCheckRow, Insert<SelfCheckRow, 'checked_at'>, 'id'>;
    oauth_states: Table<OAuthStateRow, Insert<OAuthStateRow, 'id' | 'created_at'>, 'id'>;
    token_staging: Table<TokenStagingRow, Insert<TokenStagingRow, 'created_at'>, 'connect_id' | 'kind'>;
    connect_attempts: Table<ConnectAttemptRow, Insert<ConnectAttemptRow, 'state' | 'started_at'>, 'workflow_id'>;
    whatsapp_business_accounts: Table<BusinessAccountRow, BusinessAccountInsert, 'id'>;
    whatsapp_phone_numbers: Table<PhoneNumberRow, PhoneNumberInsert, 'id'>;
    messages: Table<MessageRow, MessageInsert, 'id'>;
    message_statuses: Table<
      MessageStatusRow,
      Insert<MessageStatusRow, 'received_at', 'errors' | 'pricing' | 'conversation'>,
      'wamid' | 'status'
    >;
    account_events: Table<AccountEventRow, Insert<AccountEventRow, 'id' | 'received_at', 'value' | 'applied_to'>, 'id'>;
    signup_events: Table<SignupEventRow, Insert<SignupEventRow, 'id' | 'created_at'>, 'id'>;
    customers: Table<CustomerRow, Insert<CustomerRow, 'id' | 'created_at' | 'updated_at'>, 'id'>;
    conversations: Table<
      ConversationRow,
      Insert<ConversationRow, 'id' | 'last_sequence' | 'mode' | 'head_since' | 'created_at' | 'updated_at'>,
      'id'
    >;
    turns: Table<TurnRow, Insert<TurnRow, 'id' | 'state' | 'created_at', 'handoff'>, 'id'>;
    workflow_starts: Table<
      WorkflowStartRow,
      Insert<WorkflowStartRow, 'id' | 'attempts' | 'available_at' | 'created_at', 'args'>,
      'id'
    >;
    rejected_items: Table<RejectedItemRow, Insert<RejectedItemRow, 'id' | 'received_at'>, 'id'>;
    connect_tickets: Table<ConnectTicketRow, Insert<ConnectTicketRow, 'created_at'>, 'ticket_hash'>;
    webhook_errors: Table<WebhookErrorRow, Insert<WebhookErrorRow, 'id' | 'received_at'>, 'id'>;
    phone_number_registration_attempts: Table<
      RegistrationAttemptRow,
      Insert<RegistrationAttemptRow, 'id' | 'attempted_at'>,
      'id'
    >;
    business_app_syncs: Table<
      BusinessAppSyncRow,
      Insert<BusinessAppSyncRow, 'id' | 'state' | 'attempts' | 'created_at' | 'updated_at'>,
      'id'
    >;
    template_events: Table<
      TemplateEventRow,
      Insert<TemplateEventRow, 'id' | 'received_at', 'other_info' | 'rejection_info' | 'value'>,
      'id'
    >;
    message_templates: Table<MessageTemplateRow, MessageTemplateInsert, 'id'>;
    send_pacing: Table<SendPacingRow, Insert<SendPacingRow, 'recipient'>, 'phone_number_id' | 'recipient'>;
    messaging_limit_recipients: Table<
      MessagingLimitRecipientRow,
      Insert<MessagingLimitRecipientRow>,
      'portfolio_key' | 'recipient_key'
    >;
    data_deletion_requests: Table<DataDeletionRequestRow, Insert<DataDeletionRequestRow, 'id' | 'requested_at'>, 'id'>;
    erasures: Table<
      ErasureRow,
      Insert<ErasureRow, 'id' | 'state' | 'counts' | 'requested_at' | 'updated_at', 'counts'>,
      'id'
    >;
    conversation_events: Table<ConversationEventRow, Insert<ConversationEventRow, 'id' | 'created_at'>, 'id'>;
    media: Table<MediaRow, Insert<MediaRow, 'id' | 'state' | 'created_at' | 'updated_at'>, 'id'>;
    rate_limits: Table<RateLimitRow, Insert<RateLimitRow, 'points'>, 'key'>;
  }
}
