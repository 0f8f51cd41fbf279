// Graph API errors, classified once, here. Every caller (activities, routes) acts on `kind`.

export type GraphErrorKind =
  /** Network trouble, 5xx, rate limits: retry with backoff. */
  | 'transient'
  /** The token is invalid, expired or revoked (190): the business must connect again. */
  | 'reauth'
  /** The token lacks a permission (10, 200-299). */
  | 'permission'
  /** The authorization code was already exchanged (100 / 36009). */
  | 'code_used'
  /** The authorization code expired or is unknown (100 / 36007). */
  | 'code_expired'
  /** Outside the 24-hour customer service window (131047): only templates may be sent. */
  | 'window_closed'
  /** Anything else Meta refused: a bad request that retrying cannot fix. */
  | 'invalid';

/**
 * Whether the request can have taken effect at Meta: `rejected` (Meta refused it with a 4xx),
 * `not_sent` (the connection failed before the request left), `unknown` (a 5xx, a timeout or a
 * reset after sending: Meta may have acted on it). Sending a message relies on this to avoid a second reply.
 */
export type GraphOutcome = 'rejected' | 'not_sent' | 'unknown';

const RATE_LIMIT_CODES = new Set([4, 17, 32, 613, 80007, 130429, 131056]);
// 1 is Meta's "API Unknown: invalid request or possible server error" and 131057 "Account in
// maintenance mode" (for example during a throughput upgrade): both pass, so they are retried.
const TRANSIENT_CODES = new Set([1, 2, 341, 131057, ...RATE_LIMIT_CODES]);

export interface GraphErrorDetails {
  operation: string;
  status?: number;
  /** Meta's error type, e.g. OAuthException. */
  type?: string;
  code?: number;
  subcode?: number;
  fbtraceId?: string;
  /** Meta's `error_data.details`: the most specific reason, which Meta says to build handling on. */
  details?: string;
  /** Meta's `error_user_title` and `error_user_msg`: the words meant for the person (template reviews use them). */
  userTitle?: string;
  userMessage?: string;
  outcome: GraphOutcome;
}

export class GraphError extends Error {
  override name = 'GraphError';
  readonly kind: GraphErrorKind;
  readonly operation: string;
  readonly status: number | undefined;
  readonly code: number | undefined;
  readonly subcode: number | undefined;
  readonly fbtraceId: string | undefined;
  readonly details: string | undefined;
  readonly userTitle: string | undefined;
  readonly userMessage: string | undefined;
  readonly outcome: GraphOutcome;

  constructor(message: string, details: GraphErrorDetails, options?: { cause?: unknown }) {
    super(scrubSecrets(message), options);
    this.operation = details.operation;
    this.status = details.status;
    this.code = details.code;
    this.subcode = details.subcode;
    this.fbtraceId = details.fbtraceId;
    // Scrubbed like the message: Meta's details can quote the request, tokens included.
    this.details = details.details === undefined ? undefined : scrubSecrets(details.details);
    this.userTitle = details.userTitle === undefined ? undefined : scrubSecrets(details.userTitle);
    this.userMessage = details.userMessage === undefined ? undefined : scrubSecrets(details.userMessage);
    this.outcome = details.outcome;
    this.kind = classify(details);
  }

  get isRateLimit(): boolean {
    return this.status === 429 || (this.code !== undefined && RATE_LIMIT_CODES.has(this.code));
  }

  /** A short, secret-free description for failures, logs and the status endpoint. */
  get summary(): string {
    const parts = [`${this.operation} failed`];
    if (this.status) parts.push(`HTTP ${this.status}`);
    if (this.code !== undefined) parts.push(`code ${this.code}${this.subcode ? `/${this.subcode}` : ''}`);
    const detail = this.details && this.details !== this.message ? ` (${this.details})` : '';
    return `${parts.join(', ')}: ${this.message}${detail}`;
  }
}

/** The calls that present our app secret: only these can fail for a wrong one. */
const APP_SECRET_OPERATIONS = new Set(['oauth.code_exchange', 'oauth.fb_exchange', 'debug_token']);

export function classify(
  details: Pick<GraphErrorDetails, 'status' | 'code' | 'subcode' | 'outcome' | 'type'> & { operation?: string },
): GraphErrorKind {
  const { status, code, subcode, outcome, type, operation } = details;
  if (outcome !== 'rejected' || (status !== undefined && status >= 500)) return 'transient';
  // "Error validating client secret" is code 1 too, an OAuthException on a call that carries the
  // app secret: a configuration error. Everywhere else code 1 is Meta's "unknown error", which it
  // documents as possibly temporary (wait and retry), and Graph errors are OAuthExceptions alike.
  const wrongSecret = code === 1 && type === 'OAuthException' && APP_SECRET_OPERATIONS.has(operation ?? '');
  if (wrongSecret || code === 101) return 'invalid';
  if (code === 190 || code === 102) return 'reauth';
  if (code === 100 && subcode === 36009) return 'code_used';
  if (code === 100 && subcode === 36007) return 'code_expired';
  if (code === 131047) return 'window_closed';
  if (code !== undefined && TRANSIENT_CODES.has(code)) return 'transient';
  if (code === 10 || (code !== undefined && code >= 200 && code <= 299)) return 'permission';
  if (status === 429) return 'transient';
  return 'invalid';
}

const SECRET_PATTERNS: RegExp[] = [
  // Meta access tokens (user, page, system user) start with EAA.
  /EAA[A-Za-z0-9]{10,}/g,
  // App tokens: {app-id}|{app-secret}.
  /\d{5,}\|[A-Za-z0-9_-]{10,}/g,
  // Query parameters that carry secrets.
  /((?:access_token|client_secret|code|fb_exchange_token|input_token)=)[^&\s"]+/gi,
];

/** Removes anything that looks like a token or secret from text that may end up in a failure. */
export function scrubSecrets(text: string, extra: string[] = []): string {
  let out = text;
  for (const secret of extra) if (secret.length >= 6) out = out.split(secret).join('[redacted]');
  for (const pattern of SECRET_PATTERNS)
    out = out.replace(pattern, (match, prefix?: string) =>
      typeof prefix === 'string' && match.startsWith(prefix) ? `${prefix}[redacted]` : '[redacted]',
    );
  return out;
}

/**
 * Meta's registration codes that get their own stable code (the WhatsApp error code reference,
 * https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes/).
 * 133016 stays a permanent refusal for retries: the block lasts until the 72-hour window passes.
 */
export const REGISTRATION_META_CODES = {
  133005: 'pin_mismatch',
  133016: 'registration_rate_limited',
  133010: 'number_not_registered',
} as const;

export function registrationCodeOf(
  error: GraphError,
): (typeof REGISTRATION_META_CODES)[133005 | 133016 | 133010] | undefined {
  const code = error.code;
  return code === 133005 || code === 133016 || code === 133010 ? REGISTRATION_META_CODES[code] : undefined;
}

/**
 * What a refused template call means for the business. Meta answers template problems with code
 * 100 and a 2388xxx subcode, with `error_user_title`/`error_user_msg` saying what to fix; 2388024
 * is "content in this language already exists"
 * (https://developers.facebook.com/documentation/business-messaging/whatsapp/templates/template-management/).
 * A delete of a name Meta does not know is also a 100 (Meta names no subcode for it).
 */
export type TemplateRefusal = 'template_exists' | 'template_not_found' | 'template_invalid';

const TEMPLATE_EXISTS_SUBCODES = new Set([2388024]);

export function templateRefusalOf(error: GraphError): TemplateRefusal | undefined {
  if (error.kind !== 'invalid' || error.code !== 100) return undefined;
  if (error.subcode !== undefined && TEMPLATE_EXISTS_SUBCODES.has(error.subcode)) return 'template_exists';
  if (error.operation === 'templates.delete') return 'template_not_found';
  return 'template_invalid';
}

/** Meta's words for the person (already scrubbed), else its message. */
export function templateRefusalMessage(error: GraphError): string {
  const parts = [error.userTitle, error.userMessage].filter((p): p is string => Boolean(p));
  return parts.length > 0 ? parts.join(': ') : error.message;
}
