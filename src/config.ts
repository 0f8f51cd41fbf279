// The one place that reads process.env. Everything else receives a typed Config.
import { loadClientConfigProfile, toClientOptions } from '@temporalio/envconfig';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { codecKeyring, emptyKeyring, parseKeyring, type Keyring } from './crypto.js';
import { dataDir } from './paths.js';
import { DEFAULT_CALL_TIMEOUTS } from './temporal/timeouts.js';

export type Role = 'api' | 'worker' | 'migrate' | 'dev' | 'reconcile' | 'erase';

/** Kinds of stored data, each with its own retention setting (see README, Data). */
export const RETENTION_KINDS = [
  'message_text',
  'messages',
  'statuses',
  'media',
  'account_events',
  'oauth_states',
  'signup_events',
  'rejected_items',
] as const;
export type RetentionKind = (typeof RETENTION_KINDS)[number];

/**
 * Per-business request budgets by route group (see README, Abuse limits): the routes that start
 * costly work have one each; every other authenticated read shares `reads`, every other write `writes`.
 */
export const RATE_LIMITS = ['connect', 'embedded_signup', 'messages', 'erasures', 'reads', 'writes'] as const;
export type RateLimitName = (typeof RATE_LIMITS)[number];

/** So many requests per so many seconds. */
export interface RateLimit {
  points: number;
  durationSeconds: number;
}

export interface UrlSettings {
  PUBLIC_URL: string | undefined;
  FRONTEND_URL: string | undefined;
  META_REDIRECT_URI: string | undefined;
}

/** The URLs the API hands out: each as set, else following `origin`, the API's own address. */
function publicUrls(set: UrlSettings, origin: string) {
  const publicUrl = stripSlash(set.PUBLIC_URL ?? origin);
  return {
    publicUrl,
    frontendUrl: stripSlash(set.FRONTEND_URL ?? publicUrl),
    redirectUri: set.META_REDIRECT_URI ?? `${publicUrl}/api/integrations/whatsapp/callback`,
  };
}

/**
 * The configuration of an API listening at `origin` on `port`: with PORT=0 the port is known only
 * once the socket is bound, and the URLs left unset (the OAuth redirect URI among them) follow it.
 */
export function listeningAt(config: Config, origin: string, port: number): Config {
  if (config.port !== 0) return config;
  const { publicUrl, frontendUrl, redirectUri } = publicUrls(config.urlSettings, origin);
  return { ...config, port, publicUrl, frontendUrl, meta: { ...config.meta, redirectUri } };
}

export interface Config {
  nodeEnv: string;
  /** Where the API listens: 127.0.0.1 for `npm start` (dev), all interfaces otherwise, unless HOST. */
  host: string;
  /** 0: the kernel picks the port when the API listens (see `listeningAt`). */
  port: number;
  publicUrl: string;
  frontendUrl: string;
  /** PUBLIC_URL, FRONTEND_URL and META_REDIRECT_URI as set; what is unset follows the API's address. */
  urlSettings: UrlSettings;
  databaseUrl: string;
  logLevel: string;
  temporal: {
    address: string;
    namespace: string;
    /**
     * How the client and the worker connect (TLS, client certificate, API key, gRPC headers),
     * from Temporal's environment configuration: a profile of TEMPORAL_CONFIG_FILE (or the
     * default temporal.toml) overridden by the TEMPORAL_* variables.
     */
    connection: TemporalConnectionSettings;
    /** The named profile in use, when one was asked for. */
    profile: string | undefined;
    /** The base task queue; each kind of work polls a queue derived from it. */
    taskQueue: string;
    uiUrl: string | undefined;
    /** How often the reconcile Schedule runs. */
    reconcileIntervalMs: number;
  };
  meta: {
    sandbox: boolean;
    appId: string;
    appSecret: string;
    redirectUri: string;
    configId: string | undefined;
    graphApiVersion: string;
    graphApiUrl: string;
    oauthDialogUrl: string;
    /** Per-call timeout of Graph API requests. */
    timeoutMs: number;
  };
  whatsapp: {
    verifyToken: string;
    appSecret: string;
    /** The secrets a webhook signature may be made with: the app secret, then the previous one during a rotation. */
    appSecrets: string[];
  };
  /** Credentials, PINs and staged secrets. */
  keyring: Keyring;
  /** Temporal payloads: TEMPORAL_CODEC_KEY, then keys derived from the credentials keyring. */
  codecKeyring: Keyring;
  auth: {
    jwtSecret: string;
    businessClaim: string;
    /** Tokens older than this (by `iat`) are refused, whatever their `exp`. */
    maxAgeMs: number;
    issuer: string | undefined;
    audience: string | undefined;
    /** The claim listing a user's roles (a string or an array of strings), e.g. "agent". */
    roleClaim: string;
    /** Signs the sandbox dashboard's sessions; accepted only in sandbox mode. */
    sandboxSessionSecret: string | undefined;
  };
  /** Operators of the Temporal UI's codec endpoint: verified with keys of their own. */
  codec: {
    authToken: string | undefined;
    jwtSecret: string | undefined;
    jwksUrl: string | undefined;
    issuer: string | undefined;
    audience: string | undefined;
  };
  reply: {
    webhookUrl: string | undefined;
    webhookSecret: string | undefined;
    timeoutMs: number;
    defaultText: string;
    /**
     * After a send whose outcome is unknown (timeout, 5xx), how long to wait for Meta's status
     * webhook to show it went out before sending again.
     */
    unknownOutcomeGraceMs: number;
    /** Wait this long after the newest waiting message before freezing a turn (0: answer at once). */
    debounceMs: number;
    /** A turn is frozen at most this long after its oldest message arrived, however often new ones come. */
    debounceMaxMs: number;
    /** The head of a conversation's line is closed `failed: superseded` after waiting this long. */
    maxTurnWaitMs: number;
    /** A reply this much later than the message it answers is not sent (`unanswered: late`). */
    maxReplyLatenessMs: number;
    /** While the responder thinks this long, the typing indicator is shown once more (Meta drops it after 25 s). */
    typingRefreshMs: number;
  };
  outbox: {
    /** How often every worker drains the workflow-start outbox. */
    drainIntervalMs: number;
    /** How long after a start the drain looks at a message workflow that has not closed its message. */
    checkAfterMs: number;
    /** Message workflows of one business running at once; the rest wait in the outbox. */
    perBusinessRuns: number;
    /** Restarts of a failed message workflow before its message is closed `failed`. */
    maxRestarts: number;
  };
  tokens: {
    refreshIntervalMs: number;
    expiryThresholdDays: number;
  };
  callbackWaitMs: number;
  erasure: {
    /** Erase a business's data after it disconnects, or when Meta removes or offboards its accounts. */
    deleteOnDisconnect: boolean;
  };
  /** GET /metrics: on its own internal server (port, host), and/or on the API behind a token. */
  metrics: {
    port: number | undefined;
    host: string;
    authToken: string | undefined;
  };
  workerMetricsPort: number | undefined;
  /** Inbound media: where it is stored, and the signed URLs the AI brain fetches it with. */
  media: {
    /** The local folder of the default storage. */
    dir: string;
    /** S3-compatible object storage instead of the folder, when a bucket is given. */
    s3: { bucket: string; endpoint: string | undefined; region: string; forcePathStyle: boolean } | undefined;
    /** Key of the signed media URLs; undefined: derived from the credentials keyring. */
    urlSigningKey: string | undefined;
    /** How long a signed media URL handed to the responder stays valid. */
    urlTtlMs: number;
  };
  worker: {
    /** Activity slots (and as many local-activity slots) of each queue's worker. */
    slots: Record<'messages' | 'outbound' | 'connect' | 'maintenance', number>;
  };
  /** What one client or one business can take of the API (README, Abuse limits). */
  limits: {
    /** Webhook body bytes all requests of this process may hold at once; beyond it, 503. */
    webhookBytesInFlight: number;
    /** A client gets this long to send its whole request (headers and body); then 408. */
    requestTimeoutMs: number;
    /** ...and this long for its headers. */
    headersTimeoutMs: number;
    /** Requests per business per window, by route group; null: unlimited (`off`). */
    rates: Record<RateLimitName, RateLimit | null>;
    /** Unused, unexpired OAuth states (and connect tickets) a business holds at most; older ones are evicted. */
    oauthStatesPerBusiness: number;
    /** Embedded Signup session events a business may record per hour. */
    signupEventsPerHour: number;
  };
  retention: {
    /** Days each kind of data is kept; null: kept forever (`off`). */
    days: Record<RetentionKind, number | null>;
    /** How often the retention Schedule starts a sweep. */
    sweepIntervalMs: number;
    /** Rows one statement of the sweep deletes (or clears) at most. */
    batchSize: number;
  };
}

export interface TemporalConnectionSettings {
  address: string;
  tls?: ReturnType<typeof toClientOptions>['connectionOptions']['tls'];
  apiKey?: string;
  metadata?: Record<string, string>;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

const DURATION = /^(\d+)(ms|s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses "90s", "15m", "24h", "7d" (or plain milliseconds) into milliseconds. */
export function parseDuration(text: string): number | undefined {
  if (/^\d+$/.test(text)) return Number(text);
  const match = DURATION.exec(text);
  if (!match) return undefined;
  return Number(match[1]) * UNIT_MS[match[2]!]!;
}

const url = z.url({ protocol: /^https?$/ });
const optionalText = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));
const bool = z
  .enum(['true', 'false', '1', '0', ''])
  .optional()
  .transform((v) => v === 'true' || v === '1');
const port = z.coerce.number().int().min(0).max(65535);
const duration = z.string().transform((v, ctx) => {
  const ms = parseDuration(v);
  if (ms === undefined || ms <= 0) {
    ctx.addIssue({ code: 'custom', message: 'expected a duration such as 90s, 15m, 24h or 7d' });
    return z.NEVER;
  }
  return ms;
});

/**
 * A retention setting: whole days, at least `min` (what the data is still needed for), or `off` to
 * keep it forever. 0 is refused rather than guessed at (nothing kept, or forever?).
 */
function retentionDays(fallback: number, min: number) {
  return z
    .string()
    .default(String(fallback))
    .transform((v, ctx) => {
      if (v.trim().toLowerCase() === 'off') return null;
      const days = /^\d+$/.test(v.trim()) ? Number(v) : NaN;
      if (!(days >= min && days <= 36_500)) {
        ctx.addIssue({ code: 'custom', message: `expected whole days from ${min} to 36500, or off` });
        return z.NEVER;
      }
      return days;
    });
}

/** `<requests>/<duration>` (e.g. 20/10m, whole seconds at least) or `off`. */
function rateLimit(fallback: string) {
  return z
    .string()
    .default(fallback)
    .transform((v, ctx): RateLimit | null => {
      if (v.trim().toLowerCase() === 'off') return null;
      const [points, window] = v.trim().split('/');
      const ms = window === undefined ? undefined : parseDuration(window);
      if (!/^\d+$/.test(points ?? '') || Number(points) < 1 || ms === undefined || ms < 1000 || ms % 1000 !== 0) {
        ctx.addIssue({
          code: 'custom',
          message: 'expected <requests>/<duration> such as 20/10m (whole seconds), or off',
        });
        return z.NEVER;
      }
      return { points: Number(points), durationSeconds: ms / 1000 };
    });
}

const MIB = 1024 * 1024;

/** Which variables each role cannot start without (sandbox mode supplies the Meta ones). */
function required(role: Role, sandbox: boolean): string[] {
  if (role === 'migrate') return ['DATABASE_URL'];
  const always = ['DATABASE_URL', 'CREDENTIALS_ENCRYPTION_KEY'];
  const http = role === 'api' || role === 'dev' ? ['AUTH_JWT_SECRET', 'WHATSAPP_VERIFY_TOKEN'] : [];
  // In sandbox mode the app id is the sandbox's, but its secret and URLs must still be given
  // (npm start generates and passes them), so nothing silently points at Meta.
  const meta = sandbox
    ? ['META_APP_SECRET', 'META_GRAPH_API_URL', 'META_OAUTH_DIALOG_URL']
    : ['META_APP_ID', 'META_APP_SECRET'];
  const frontend = !sandbox && (role === 'api' || role === 'dev') ? ['FRONTEND_URL'] : [];
  // The sandbox dashboard's sessions are signed with a key of their own, never the tenant one.
  const session = sandbox && (role === 'api' || role === 'dev') ? ['SANDBOX_SESSION_SECRET'] : [];
  return [...always, ...http, ...meta, ...frontend, ...session];
}

const schema = z.object({
  NODE_ENV: z.string().default('development'),
  HOST: optionalText,
  PORT: port.default(8000),
  PUBLIC_URL: url.optional(),
  FRONTEND_URL: url.optional(),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'expected a postgres:// URL')
    .optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('whatsapp'),
  TEMPORAL_UI_URL: url.optional(),
  RECONCILE_INTERVAL: duration.default(900_000),
  META_SANDBOX: bool,
  META_APP_ID: optionalText,
  META_APP_SECRET: optionalText,
  META_REDIRECT_URI: url.optional(),
  META_CONFIG_ID: optionalText,
  META_GRAPH_API_VERSION: z
    .string()
    .regex(/^v\d+\.\d+$/, 'expected a version such as v25.0')
    .default('v25.0'),
  META_GRAPH_API_URL: url.optional(),
  META_OAUTH_DIALOG_URL: url.optional(),
  WHATSAPP_VERIFY_TOKEN: optionalText,
  WHATSAPP_APP_SECRET: optionalText,
  WHATSAPP_APP_SECRET_PREVIOUS: optionalText,
  CREDENTIALS_ENCRYPTION_KEY: optionalText,
  TEMPORAL_CODEC_KEY: optionalText,
  AUTH_JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  AUTH_BUSINESS_CLAIM: z.string().min(1).default('business_id'),
  AUTH_JWT_MAX_AGE: duration.default(86_400_000),
  AUTH_JWT_ISSUER: optionalText,
  AUTH_JWT_AUDIENCE: optionalText,
  AUTH_ROLE_CLAIM: z.string().min(1).default('role'),
  SANDBOX_SESSION_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  REPLY_WEBHOOK_URL: url.optional(),
  REPLY_WEBHOOK_SECRET: optionalText,
  REPLY_WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(DEFAULT_CALL_TIMEOUTS.responderMs),
  SEND_UNKNOWN_OUTCOME_GRACE_MS: z.coerce.number().int().min(0).max(600_000).default(15_000),
  REPLY_DEBOUNCE_MS: z.coerce.number().int().min(0).max(600_000).default(0),
  REPLY_DEBOUNCE_MAX_MS: z.coerce.number().int().min(0).max(3_600_000).default(10_000),
  MAX_TURN_WAIT_MS: z.coerce.number().int().min(1_000).max(86_400_000).default(300_000),
  MAX_REPLY_LATENESS_MS: z.coerce.number().int().min(1_000).max(86_400_000).default(3_600_000),
  TYPING_REFRESH_MS: z.coerce.number().int().min(500).max(24_000).default(20_000),
  OUTBOX_DRAIN_INTERVAL_MS: z.coerce.number().int().min(50).max(600_000).default(1_000),
  OUTBOX_CHECK_AFTER_MS: z.coerce.number().int().min(100).max(3_600_000).default(30_000),
  MESSAGE_RUNS_PER_BUSINESS: z.coerce.number().int().min(1).max(100_000).default(200),
  GRAPH_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(DEFAULT_CALL_TIMEOUTS.graphMs),
  AUTO_REPLY_TEXT: z.string().min(1).max(4096).default('Thanks for your message! We will get back to you shortly.'),
  TOKEN_REFRESH_INTERVAL: duration.default(86_400_000),
  TOKEN_EXPIRY_THRESHOLD_DAYS: z.coerce.number().int().min(1).max(59).default(10),
  CALLBACK_WAIT_MS: z.coerce.number().int().min(0).max(60_000).default(10_000),
  DELETE_DATA_ON_DISCONNECT: bool,
  CODEC_AUTH_TOKEN: z.string().min(32, 'must be at least 32 characters').optional(),
  CODEC_JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  CODEC_JWT_JWKS_URL: z.url({ protocol: /^https?$/ }).optional(),
  CODEC_JWT_ISSUER: optionalText,
  CODEC_JWT_AUDIENCE: optionalText,
  WORKER_METRICS_PORT: port.optional(),
  WORKER_MESSAGES_SLOTS: z.coerce.number().int().min(1).max(500).default(40),
  WORKER_OUTBOUND_SLOTS: z.coerce.number().int().min(1).max(500).default(10),
  WORKER_CONNECT_SLOTS: z.coerce.number().int().min(1).max(500).default(5),
  WORKER_MAINTENANCE_SLOTS: z.coerce.number().int().min(1).max(500).default(5),
  METRICS_PORT: port.optional(),
  METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  METRICS_AUTH_TOKEN: z.string().min(32, 'must be at least 32 characters').optional(),
  // Minimums: an outbound row guards its idempotency key for 24 hours; Meta counts registration
  // attempts over 72 hours.
  // At least the webhook body limit (4 MiB), so one valid delivery always fits.
  WEBHOOK_MAX_BYTES_IN_FLIGHT: z.coerce
    .number()
    .int()
    .min(4 * MIB)
    .max(4096 * MIB)
    .default(32 * MIB),
  HTTP_REQUEST_TIMEOUT: duration.default(30_000),
  HTTP_HEADERS_TIMEOUT: duration.default(10_000),
  RATE_LIMIT_CONNECT: rateLimit('20/10m'),
  RATE_LIMIT_EMBEDDED_SIGNUP: rateLimit('20/10m'),
  RATE_LIMIT_MESSAGES: rateLimit('6000/1m'),
  RATE_LIMIT_ERASURES: rateLimit('10/1h'),
  // A dashboard polls: a hundred open tabs of one business at a request a second stay under
  // `reads`; writes are people clicking.
  RATE_LIMIT_READS: rateLimit('6000/1m'),
  RATE_LIMIT_WRITES: rateLimit('600/1m'),
  OAUTH_STATES_PER_BUSINESS: z.coerce.number().int().min(1).max(1_000).default(10),
  SIGNUP_EVENTS_PER_HOUR: z.coerce.number().int().min(1).max(100_000).default(60),
  RETENTION_MESSAGE_TEXT_DAYS: retentionDays(30, 1),
  RETENTION_MESSAGES_DAYS: retentionDays(90, 1),
  RETENTION_STATUSES_DAYS: retentionDays(30, 1),
  RETENTION_MEDIA_DAYS: retentionDays(30, 1),
  RETENTION_ACCOUNT_EVENTS_DAYS: retentionDays(365, 3),
  RETENTION_OAUTH_STATES_DAYS: retentionDays(1, 1),
  RETENTION_SIGNUP_EVENTS_DAYS: retentionDays(90, 1),
  RETENTION_REJECTED_DAYS: retentionDays(30, 1),
  RETENTION_SWEEP_INTERVAL: duration.default(3_600_000),
  RETENTION_BATCH_SIZE: z.coerce.number().int().min(1).max(100_000).default(1_000),
  MEDIA_DIR: optionalText,
  MEDIA_S3_BUCKET: optionalText,
  MEDIA_S3_ENDPOINT: url.optional(),
  MEDIA_S3_REGION: z.string().min(1).default('us-east-1'),
  MEDIA_S3_FORCE_PATH_STYLE: bool,
  MEDIA_URL_SIGNING_KEY: z.string().min(32, 'must be at least 32 characters').optional(),
  MEDIA_URL_TTL: duration.default(900_000),
});

export const SANDBOX_APP_ID = '100000000000001';

/**
 * Reads and validates the environment once. Throws ConfigError listing every problem at once,
 * so an operator fixes a deployment in one pass instead of one variable per restart.
 */
export function loadConfig(env: NodeJS.ProcessEnv, role: Role): Config {
  const blankless = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const parsed = schema.safeParse(blankless);
  const problems: string[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(`${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(problems);
  }
  const e = parsed.data;
  const sandbox = e.META_SANDBOX;
  if (sandbox) {
    const metaUrls = { META_GRAPH_API_URL: e.META_GRAPH_API_URL, META_OAUTH_DIALOG_URL: e.META_OAUTH_DIALOG_URL };
    problems.push(...sandboxProblems(e.NODE_ENV, metaUrls));
  }
  for (const name of required(role, sandbox)) {
    if (e[name as keyof typeof e] === undefined) problems.push(`${name}: required`);
  }
  if (e.REPLY_WEBHOOK_URL && !e.REPLY_WEBHOOK_SECRET) {
    problems.push('REPLY_WEBHOOK_SECRET: required when REPLY_WEBHOOK_URL is set');
  }
  // Messages and their text travel there: only over TLS, except to a local stand-in in sandbox mode.
  if (e.REPLY_WEBHOOK_URL && !sandbox && !e.REPLY_WEBHOOK_URL.startsWith('https://')) {
    problems.push('REPLY_WEBHOOK_URL: must be https outside sandbox mode');
  }
  let keyring: Keyring | undefined;
  if (e.CREDENTIALS_ENCRYPTION_KEY) {
    try {
      keyring = parseKeyring(e.CREDENTIALS_ENCRYPTION_KEY);
    } catch (error) {
      problems.push(`CREDENTIALS_ENCRYPTION_KEY: ${(error as Error).message}`);
    }
  }
  if (e.HTTP_HEADERS_TIMEOUT > e.HTTP_REQUEST_TIMEOUT) {
    problems.push('HTTP_HEADERS_TIMEOUT: must not be longer than HTTP_REQUEST_TIMEOUT');
  }
  let ownCodecKeys: Keyring | undefined;
  if (e.TEMPORAL_CODEC_KEY) {
    try {
      ownCodecKeys = parseKeyring(e.TEMPORAL_CODEC_KEY);
      // The derived keys keep the credentials' ids and must still decrypt older payloads.
      const shared = [...ownCodecKeys.keys.keys()].filter((id) => keyring?.keys.has(id));
      if (shared.length)
        problems.push(`TEMPORAL_CODEC_KEY: key id ${shared.join(', ')} is a credentials key id; use new ids`);
    } catch (error) {
      problems.push(`TEMPORAL_CODEC_KEY: ${(error as Error).message}`);
    }
  }
  const temporal = temporalConnection(blankless as Record<string, string>, problems);
  if (problems.length > 0 || !temporal) throw new ConfigError(problems);

  const urlSettings = {
    PUBLIC_URL: e.PUBLIC_URL,
    FRONTEND_URL: e.FRONTEND_URL,
    META_REDIRECT_URI: e.META_REDIRECT_URI,
  };
  const { publicUrl, frontendUrl, redirectUri } = publicUrls(urlSettings, `http://localhost:${e.PORT}`);
  const appSecret = e.META_APP_SECRET ?? '';
  return {
    nodeEnv: e.NODE_ENV,
    host: e.HOST ?? (role === 'dev' ? '127.0.0.1' : '0.0.0.0'),
    port: e.PORT,
    publicUrl,
    frontendUrl,
    urlSettings,
    databaseUrl: e.DATABASE_URL ?? '',
    logLevel: e.LOG_LEVEL,
    temporal: {
      ...temporal,
      taskQueue: e.TEMPORAL_TASK_QUEUE,
      reconcileIntervalMs: e.RECONCILE_INTERVAL,
      uiUrl: e.TEMPORAL_UI_URL ? stripSlash(e.TEMPORAL_UI_URL) : undefined,
    },
    meta: {
      sandbox,
      appId: e.META_APP_ID ?? (sandbox ? SANDBOX_APP_ID : ''),
      appSecret,
      redirectUri,
      configId: e.META_CONFIG_ID,
      graphApiVersion: e.META_GRAPH_API_VERSION,
      graphApiUrl: stripSlash(e.META_GRAPH_API_URL ?? 'https://graph.facebook.com'),
      oauthDialogUrl: stripSlash(e.META_OAUTH_DIALOG_URL ?? 'https://www.facebook.com'),
      timeoutMs: e.GRAPH_TIMEOUT_MS,
    },
    whatsapp: {
      verifyToken: e.WHATSAPP_VERIFY_TOKEN ?? '',
      appSecret: e.WHATSAPP_APP_SECRET ?? appSecret,
      appSecrets: [
        e.WHATSAPP_APP_SECRET ?? appSecret,
        ...(e.WHATSAPP_APP_SECRET_PREVIOUS ? [e.WHATSAPP_APP_SECRET_PREVIOUS] : []),
      ],
    },
    keyring: keyring ?? emptyKeyring(),
    codecKeyring: codecKeyring(keyring ?? emptyKeyring(), ownCodecKeys),
    auth: {
      jwtSecret: e.AUTH_JWT_SECRET ?? '',
      businessClaim: e.AUTH_BUSINESS_CLAIM,
      maxAgeMs: e.AUTH_JWT_MAX_AGE,
      issuer: e.AUTH_JWT_ISSUER,
      audience: e.AUTH_JWT_AUDIENCE,
      roleClaim: e.AUTH_ROLE_CLAIM,
      sandboxSessionSecret: sandbox ? e.SANDBOX_SESSION_SECRET : undefined,
    },
    codec: {
      authToken: e.CODEC_AUTH_TOKEN,
      jwtSecret: e.CODEC_JWT_SECRET,
      jwksUrl: e.CODEC_JWT_JWKS_URL,
      issuer: e.CODEC_JWT_ISSUER,
      audience: e.CODEC_JWT_AUDIENCE,
    },
    reply: {
      webhookUrl: e.REPLY_WEBHOOK_URL,
      webhookSecret: e.REPLY_WEBHOOK_SECRET,
      timeoutMs: e.REPLY_WEBHOOK_TIMEOUT_MS,
      defaultText: e.AUTO_REPLY_TEXT,
      unknownOutcomeGraceMs: e.SEND_UNKNOWN_OUTCOME_GRACE_MS,
      debounceMs: e.REPLY_DEBOUNCE_MS,
      debounceMaxMs: e.REPLY_DEBOUNCE_MAX_MS,
      maxTurnWaitMs: e.MAX_TURN_WAIT_MS,
      maxReplyLatenessMs: e.MAX_REPLY_LATENESS_MS,
      typingRefreshMs: e.TYPING_REFRESH_MS,
    },
    outbox: {
      drainIntervalMs: e.OUTBOX_DRAIN_INTERVAL_MS,
      checkAfterMs: e.OUTBOX_CHECK_AFTER_MS,
      perBusinessRuns: e.MESSAGE_RUNS_PER_BUSINESS,
      maxRestarts: 3,
    },
    tokens: {
      refreshIntervalMs: e.TOKEN_REFRESH_INTERVAL,
      expiryThresholdDays: e.TOKEN_EXPIRY_THRESHOLD_DAYS,
    },
    callbackWaitMs: e.CALLBACK_WAIT_MS,
    erasure: { deleteOnDisconnect: e.DELETE_DATA_ON_DISCONNECT },
    metrics: { port: e.METRICS_PORT, host: e.METRICS_HOST, authToken: e.METRICS_AUTH_TOKEN },
    workerMetricsPort: e.WORKER_METRICS_PORT,
    media: {
      dir: resolve(e.MEDIA_DIR ?? join(dataDir, 'media')),
      s3: e.MEDIA_S3_BUCKET
        ? {
            bucket: e.MEDIA_S3_BUCKET,
            endpoint: e.MEDIA_S3_ENDPOINT,
            region: e.MEDIA_S3_REGION,
            forcePathStyle: e.MEDIA_S3_FORCE_PATH_STYLE,
          }
        : undefined,
      urlSigningKey: e.MEDIA_URL_SIGNING_KEY,
      urlTtlMs: e.MEDIA_URL_TTL,
    },
    worker: {
      slots: {
        messages: e.WORKER_MESSAGES_SLOTS,
        outbound: e.WORKER_OUTBOUND_SLOTS,
        connect: e.WORKER_CONNECT_SLOTS,
        maintenance: e.WORKER_MAINTENANCE_SLOTS,
      },
    },
    limits: {
      webhookBytesInFlight: e.WEBHOOK_MAX_BYTES_IN_FLIGHT,
      requestTimeoutMs: e.HTTP_REQUEST_TIMEOUT,
      headersTimeoutMs: e.HTTP_HEADERS_TIMEOUT,
      rates: {
        connect: e.RATE_LIMIT_CONNECT,
        embedded_signup: e.RATE_LIMIT_EMBEDDED_SIGNUP,
        messages: e.RATE_LIMIT_MESSAGES,
        erasures: e.RATE_LIMIT_ERASURES,
        reads: e.RATE_LIMIT_READS,
        writes: e.RATE_LIMIT_WRITES,
      },
      oauthStatesPerBusiness: e.OAUTH_STATES_PER_BUSINESS,
      signupEventsPerHour: e.SIGNUP_EVENTS_PER_HOUR,
    },
    retention: {
      days: {
        message_text: e.RETENTION_MESSAGE_TEXT_DAYS,
        messages: e.RETENTION_MESSAGES_DAYS,
        statuses: e.RETENTION_STATUSES_DAYS,
        media: e.RETENTION_MEDIA_DAYS,
        account_events: e.RETENTION_ACCOUNT_EVENTS_DAYS,
        oauth_states: e.RETENTION_OAUTH_STATES_DAYS,
        signup_events: e.RETENTION_SIGNUP_EVENTS_DAYS,
        rejected_items: e.RETENTION_REJECTED_DAYS,
      },
      sweepIntervalMs: e.RETENTION_SWEEP_INTERVAL,
      batchSize: e.RETENTION_BATCH_SIZE,
    },
  };
}

const DEFAULT_TEMPORAL_ADDRESS = '127.0.0.1:7233';

/**
 * Temporal's own environment configuration (the same TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
 * TEMPORAL_API_KEY, TEMPORAL_TLS_*, TEMPORAL_PROFILE and TEMPORAL_CONFIG_FILE the CLI reads), so
 * one profile file serves the CLI, the API and the worker alike.
 */
function temporalConnection(env: Record<string, string>, problems: string[]) {
  try {
    const profile = loadClientConfigProfile({ overrideEnvVars: env });
    const { connectionOptions, namespace } = toClientOptions(profile);
    const connection: TemporalConnectionSettings = { address: connectionOptions.address ?? DEFAULT_TEMPORAL_ADDRESS };
    if (connectionOptions.tls !== undefined) connection.tls = connectionOptions.tls;
    if (typeof connectionOptions.apiKey === 'string') connection.apiKey = connectionOptions.apiKey;
    if (connectionOptions.metadata && Object.keys(connectionOptions.metadata).length > 0) {
      connection.metadata = connectionOptions.metadata as Record<string, string>;
    }
    return {
      address: connection.address,
      namespace: namespace ?? 'default',
      connection,
      profile: env.TEMPORAL_PROFILE,
    };
  } catch (error) {
    // The library's messages name the profile or file; never a key or certificate.
    problems.push(`TEMPORAL_CONFIG_FILE / TEMPORAL_PROFILE / TEMPORAL_TLS_*: ${(error as Error).message}`);
    return undefined;
  }
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);

/** Sandbox mode is for a laptop or a test run: loopback Meta URLs, NODE_ENV development or test. */
function sandboxProblems(nodeEnv: string, urls: Record<string, string | undefined>): string[] {
  const problems: string[] = [];
  if (nodeEnv !== 'development' && nodeEnv !== 'test') {
    problems.push(`META_SANDBOX: sandbox mode needs NODE_ENV=development or test (is ${nodeEnv})`);
  }
  for (const [name, value] of Object.entries(urls)) {
    if (value && !LOOPBACK_HOSTS.has(new URL(value).hostname)) {
      problems.push(`${name}: sandbox mode needs a loopback host (127.0.0.1, ::1 or localhost)`);
    }
  }
  return problems;
}

function stripSlash(value: string): string {
  return value.replace(/\/+$/, '');
}
