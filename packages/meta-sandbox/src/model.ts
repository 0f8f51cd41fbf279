// The sandbox's in-memory world: the Meta objects, grants, and WhatsApp conversations it keeps.
// Field names follow Meta's where a Graph answer or webhook shows them, camelCase otherwise.

export type QualityRating = 'GREEN' | 'YELLOW' | 'RED' | 'UNKNOWN';
export type PlatformType = 'CLOUD_API' | 'ON_PREMISE' | 'NOT_APPLICABLE';
// `played`: Meta's status for the first time a voice message is played.
export type StatusValue = 'sent' | 'delivered' | 'read' | 'played' | 'failed';

export interface MetaUser {
  id: string;
  name: string;
  /** Admin switch: when false, exchanging a long-lived token keeps its expiry (Meta documents no extension). */
  extendOnExchange: boolean;
}

export interface Business {
  id: string;
  name: string;
  /** The Meta user who administers it. */
  userId: string;
}

export interface Waba {
  id: string;
  name: string;
  currency: string;
  timezoneId: string;
  messageTemplateNamespace: string;
  /** The business that owns it (a client business for client WABAs). */
  ownerBusinessId: string;
  /** The business that sees it as a client WABA, when it is shared rather than owned. */
  partnerBusinessId: string | undefined;
  /** The user who granted it to the app in the dialog, and whose tokens can see it. */
  userId: string;
  phoneNumberIds: string[];
  subscription: Subscription | undefined;
  /** The app was uninstalled from this WABA: its tokens fail with 190/458. */
  appUninstalled: boolean;
  createdAt: number;
}

export interface Subscription {
  subscribedAt: number;
  overrideCallbackUri: string | undefined;
}

export interface StatusMode {
  /** The last status the sandbox reports for a send ('read' by default). */
  stopAt: 'sent' | 'delivered' | 'read';
  /** When set, sends get a `failed` status with this error instead of sent/delivered/read. */
  fail: WhatsAppErrorDetail | undefined;
  /** How a send outside the 24-hour window fails: the API answer (default) or a `failed` status webhook. */
  windowError: 'response' | 'webhook';
}

export interface WhatsAppErrorDetail {
  code: number;
  title: string;
  message: string;
  details: string;
}

export interface PhoneNumber {
  id: string;
  wabaId: string;
  displayPhoneNumber: string;
  verifiedName: string;
  qualityRating: QualityRating;
  codeVerificationStatus: 'VERIFIED' | 'NOT_VERIFIED' | 'EXPIRED';
  platformType: PlatformType;
  /** Onboarded from the WhatsApp Business app and still on it (coexistence). */
  isOnBizApp: boolean;
  /** Meta's `status`; when unset, CONNECTED on the Cloud API and PENDING otherwise. */
  status?: string;
  /** The two-step verification PIN, once set (by register or POST /{phone-number-id}). */
  twoStepPin?: string;
  /** Times of register and deregister calls, for Meta's limit of 10 per 72 hours. */
  registrationCalls: number[];
  /** A coexistence number's WhatsApp Business app: its contacts, chat history and the owner's choices. */
  businessApp?: BusinessApp;
  throughputLevel: 'STANDARD' | 'HIGH' | 'NOT_APPLICABLE';
  /** The business portfolio's messaging limit, which Meta reports on each of its numbers. */
  messagingLimitTier: string;
  nameStatus: string;
  statusMode: StatusMode;
  lastOnboardedTime: number;
}

/**
 * `business`: the Business Integration System User token of a Facebook Login for Business
 * configuration, which never expires; `business_60d`: the same from a configuration whose token
 * expires in 60 days (refreshed with set_token_expires_in_60_days). debug_token calls both SYSTEM_USER.
 */
export type TokenKind = 'user_short' | 'user_long' | 'business' | 'business_60d';
export type CodeTokenKind = 'user_short' | 'business' | 'business_60d';
export const isBusinessToken = (kind: TokenKind) => kind === 'business' || kind === 'business_60d';

export interface AccessToken {
  value: string;
  kind: TokenKind;
  /** The Meta user (or the business's system user for business tokens). */
  userId: string;
  ownerUserId: string;
  scopes: string[];
  wabaIds: string[];
  businessIds: string[];
  issuedAt: number;
  /** Epoch milliseconds; 0 = never. */
  expiresAt: number;
  dataAccessExpiresAt: number;
  invalidated: { subcode: number } | undefined;
}

export interface AuthorizationCode {
  value: string;
  clientId: string;
  /** undefined for JS SDK popup codes, which are exchanged without redirect_uri. */
  redirectUri: string | undefined;
  tokenKind: CodeTokenKind;
  userId: string;
  scopes: string[];
  wabaIds: string[];
  businessIds: string[];
  issuedAt: number;
  expiresAt: number;
  usedAt: number | undefined;
}

export interface ConversationMessage {
  direction: 'inbound' | 'outbound';
  id: string;
  type: string;
  /** Seconds since the epoch, as Meta sends it. */
  timestamp: string;
  text: string | undefined;
  /** For outbound replies: the inbound message id from `context.message_id`. */
  contextMessageId: string | undefined;
  /** The type-specific object as sent or received (text, image, interactive, reaction…). */
  content: Record<string, unknown>;
  /** Outbound: the last status the sandbox reported. */
  status: StatusValue | 'accepted' | undefined;
  statusHistory: Array<{ status: StatusValue; at: string }>;
  /** Inbound: when the business marked it read. */
  readAt: string | undefined;
  /** Outbound: how it was sent, for statuses reported later (`biz_opaque_callback_data`, BSUID). */
  send?: { byBsuid: boolean; callbackData: string | undefined };
}

export interface Customer {
  phoneNumberId: string;
  waId: string;
  /** The business-scoped user id Meta gives this customer (always in webhooks). */
  bsuid: string;
  /** Set when the customer adopted a username: their phone number is withheld from webhooks. */
  username: string | undefined;
  name: string;
  /** Epoch milliseconds of the customer's last message to this number (opens the 24-hour window). */
  lastInboundAt: number | undefined;
  messages: ConversationMessage[];
}

export const SHORT_LIVED_SECONDS = 5_400;
export const LONG_LIVED_SECONDS = 5_184_000;
export const DATA_ACCESS_SECONDS = 90 * 86_400;
export const CODE_TTL_MS = 10 * 60_000;
export const POPUP_CODE_TTL_MS = 30_000;
export const SERVICE_WINDOW_MS = 24 * 3_600_000;

/** What a coexistence number's WhatsApp Business app holds, as its sync webhooks describe it. */
export interface BusinessApp {
  contacts: Array<{ phone: string; fullName: string; firstName: string }>;
  /** One thread per customer; `fromBusiness` messages were sent by the owner. */
  history: Array<{
    customer: string;
    messages: Array<{ id: string; fromBusiness: boolean; text: string; timestamp: number }>;
  }>;
  /** Whether the owner agreed to share the chat history when onboarding (default true). */
  historyShared: boolean;
  /** Sync types Meta already accepted a request for (each works once). */
  requested: Set<string>;
}
