// Every call we make to Meta's Graph API, in one client. Base URLs and version come from config,
// tokens travel in the Authorization header (never in URLs we might log), answers are parsed with
// a schema, and failures become a classified GraphError.
import { z } from 'zod';
import { GraphError, scrubSecrets } from './graph-errors.js';

export interface GraphClientOptions {
  graphApiUrl: string;
  graphApiVersion: string;
  appId: string;
  appSecret: string;
  timeoutMs?: number;
  /** The current activity's cancellation signal, so a cancelled or shutting-down activity stops waiting on Meta. */
  cancellation?: () => AbortSignal | undefined;
  /** Called after every call, for metrics: operation, outcome and duration. */
  onCall?: (call: { operation: string; ok: boolean; code?: number; status?: number; ms: number }) => void;
}

const metaErrorBody = z.object({
  error: z.object({
    message: z.string().optional(),
    type: z.string().optional(),
    code: z.number().optional(),
    error_subcode: z.number().optional(),
    fbtrace_id: z.string().optional(),
    error_user_title: z.string().optional(),
    error_user_msg: z.string().optional(),
    error_data: z.looseObject({ details: z.string().optional() }).optional(),
  }),
});

const tokenAnswer = z.object({
  access_token: z.string().min(1),
  token_type: z.string().optional(),
  expires_in: z.number().optional(),
});
export type TokenAnswer = z.infer<typeof tokenAnswer>;

const debugTokenAnswer = z.object({
  data: z.object({
    app_id: z.string().optional(),
    type: z.string().optional(),
    is_valid: z.boolean(),
    expires_at: z.number().optional(),
    data_access_expires_at: z.number().optional(),
    user_id: z.string().optional(),
    scopes: z.array(z.string()).optional(),
    granular_scopes: z.array(z.object({ scope: z.string(), target_ids: z.array(z.string()).optional() })).optional(),
    error: z
      .object({ code: z.number().optional(), subcode: z.number().optional(), message: z.string().optional() })
      .optional(),
  }),
});
export type DebugToken = z.infer<typeof debugTokenAnswer>['data'];

const paging = z
  .object({ cursors: z.object({ after: z.string().optional() }).optional(), next: z.string().optional() })
  .optional();
const page = <T extends z.ZodType>(item: T) => z.object({ data: z.array(item), paging });

const business = z.object({ id: z.string(), name: z.string().optional() });
const waba = z.object({
  id: z.string(),
  name: z.string().optional(),
  currency: z.string().optional(),
  timezone_id: z.string().optional(),
});
const phoneNumber = z.object({
  id: z.string(),
  display_phone_number: z.string().optional(),
  verified_name: z.string().optional(),
  quality_rating: z.string().optional(),
  code_verification_status: z.string().optional(),
  platform_type: z.string().optional(),
  status: z.string().optional(),
  is_on_biz_app: z.boolean().optional(),
  name_status: z.string().optional(),
  // Deprecated: Meta answers null since the messaging limit moved to the business portfolio.
  messaging_limit_tier: z.string().nullable().optional(),
  // The owning business portfolio's messaging limit (TIER_250 ... TIER_UNLIMITED), on the number
  // (https://developers.facebook.com/documentation/business-messaging/whatsapp/messaging-limits#via-api).
  whatsapp_business_manager_messaging_limit: z.string().nullable().optional(),
  throughput: z.object({ level: z.string().optional() }).optional(),
});
export type PhoneNumber = z.infer<typeof phoneNumber>;
const success = z.object({ success: z.boolean() });
// https://developers.facebook.com/documentation/business-messaging/whatsapp/embedded-signup/onboarding-business-app-users
// answers {messaging_product: "whatsapp", request_id}.
const smbAppDataAnswer = z.looseObject({ request_id: z.string().max(256).optional() });
const subscribedApps = z.object({
  data: z.array(z.object({ whatsapp_business_api_data: z.object({ id: z.string().optional() }).optional() })),
});
// Meta's documented answer of GET /{app-id}/subscriptions: one item per object the app has
// webhooks for, with its callback URL, whether it is active, and its fields with their versions.
const appSubscriptionsAnswer = z.object({
  data: z.array(
    z.object({
      object: z.string(),
      callback_url: z.string().optional(),
      active: z.boolean().optional(),
      fields: z.array(z.object({ name: z.string(), version: z.string().optional() })).optional(),
    }),
  ),
});
export type AppSubscription = z.infer<typeof appSubscriptionsAnswer>['data'][number];
// A message template as GET /{waba-id}/message_templates answers it
// (https://developers.facebook.com/documentation/business-messaging/whatsapp/reference/whatsapp-business-account/message-template-api/):
// quality_score is an object {score, date}; rejected_reason is "NONE" unless rejected.
const messageTemplate = z.looseObject({
  id: z.string(),
  name: z.string(),
  language: z.string(),
  status: z.string(),
  category: z.string().optional(),
  sub_category: z.string().optional(),
  parameter_format: z.string().optional(),
  components: z.array(z.looseObject({ type: z.string() })).optional(),
  rejected_reason: z.string().optional(),
  quality_score: z.looseObject({ score: z.string().optional(), date: z.number().optional() }).optional(),
});
export type MessageTemplate = z.infer<typeof messageTemplate>;
const MESSAGE_TEMPLATE_FIELDS =
  'id,name,language,status,category,sub_category,parameter_format,components,rejected_reason,quality_score';
const createdTemplate = z.object({ id: z.string(), status: z.string(), category: z.string().optional() });
export interface NewMessageTemplate {
  name: string;
  language: string;
  category: string;
  components: unknown[];
  parameterFormat?: 'POSITIONAL' | 'NAMED' | undefined;
}
const sendAnswer = z.object({ messages: z.array(z.object({ id: z.string() })).min(1) });

interface RequestOptions {
  method?: 'GET' | 'POST' | 'DELETE';
  token?: string;
  query?: Record<string, string | undefined>;
  json?: unknown;
  /** Secrets of this call, scrubbed from any error text. */
  secrets?: string[];
  /** Overrides the client's timeout, for calls that must fit a tighter budget. */
  timeoutMs?: number;
}

export class GraphClient {
  private readonly base: string;
  private readonly timeoutMs: number;

  constructor(private readonly options: GraphClientOptions) {
    this.base = `${options.graphApiUrl.replace(/\/+$/, '')}/${options.graphApiVersion}`;
    this.timeoutMs = options.timeoutMs ?? 15_000;
  }

  private signal(timeoutMs = this.timeoutMs): AbortSignal {
    const timeout = AbortSignal.timeout(timeoutMs);
    const cancelled = this.options.cancellation?.();
    return cancelled ? AbortSignal.any([timeout, cancelled]) : timeout;
  }

  /**
   * Meta serves the business portfolio's messaging limit from v24.0 on and deprecated the number's
   * own tier; v23.0 and older answer only `messaging_limit_tier`
   * (https://developers.facebook.com/documentation/business-messaging/whatsapp/messaging-limits#via-api).
   */
  private get limitField(): string {
    const major = Number(/^v(\d+)/.exec(this.options.graphApiVersion)?.[1] ?? 0);
    return major >= 24 ? 'messaging_limit_tier,whatsapp_business_manager_messaging_limit' : 'messaging_limit_tier';
  }

  private get appToken(): string {
    return `${this.options.appId}|${this.options.appSecret}`;
  }

  private async call<T extends z.ZodType>(
    operation: string,
    path: string,
    schema: T,
    opts: RequestOptions = {},
  ): Promise<z.infer<T>> {
    const url = new URL(`${this.base}/${path.replace(/^\/+/, '')}`);
    for (const [key, value] of Object.entries(opts.query ?? {}))
      if (value !== undefined) url.searchParams.set(key, value);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    if (opts.json !== undefined) headers['content-type'] = 'application/json';
    const secrets = [...(opts.secrets ?? []), ...(opts.token ? [opts.token] : []), this.options.appSecret];
    const started = performance.now();
    const report = (ok: boolean, extra: { code?: number; status?: number } = {}) =>
      this.options.onCall?.({ operation, ok, ...extra, ms: performance.now() - started });

    let response: Response;
    try {
      response = await fetch(url, {
        method: opts.method ?? 'GET',
        headers,
        body: opts.json === undefined ? undefined : JSON.stringify(opts.json),
        signal: this.signal(opts.timeoutMs),
        redirect: 'error',
      });
    } catch (error) {
      report(false);
      throw networkError(operation, error, secrets);
    }
    let body: unknown;
    const text = await response.text().catch(() => '');
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    if (!response.ok) {
      const parsed = metaErrorBody.safeParse(body);
      const error = parsed.success ? parsed.data.error : undefined;
      report(false, { status: response.status, ...(error?.code !== undefined ? { code: error.code } : {}) });
      throw new GraphError(
        scrubSecrets(error?.message ?? `HTTP ${response.status} without a Graph error body`, secrets),
        {
          operation,
          status: response.status,
          // A 5xx may come after Meta acted on the request; a 4xx means it did not.
          outcome: response.status >= 500 ? 'unknown' : 'rejected',
          ...(error?.code !== undefined ? { code: error.code } : {}),
          ...(error?.type !== undefined ? { type: error.type } : {}),
          ...(error?.error_subcode !== undefined ? { subcode: error.error_subcode } : {}),
          ...(error?.fbtrace_id !== undefined ? { fbtraceId: error.fbtrace_id } : {}),
          ...(error?.error_user_title !== undefined
            ? { userTitle: scrubSecrets(error.error_user_title, secrets) }
            : {}),
          ...(error?.error_user_msg !== undefined ? { userMessage: scrubSecrets(error.error_user_msg, secrets) } : {}),
          ...(error?.error_data?.details !== undefined
            ? { details: scrubSecrets(error.error_data.details, secrets) }
            : {}),
        },
      );
    }
    const parsed = schema.safeParse(body);
    if (!parsed.success) {
      report(false, { status: response.status });
      // Meta answered 2xx with something we do not understand: the call may have taken effect.
      throw new GraphError(`unexpected answer shape: ${z.prettifyError(parsed.error).slice(0, 300)}`, {
        operation,
        status: response.status,
        outcome: 'unknown',
      });
    }
    report(true, { status: response.status });
    return parsed.data;
  }

  /** Follows cursor paging on our own base URL (never a `next` URL Meta hands back verbatim). */
  private async listAll<T extends z.ZodType>(
    operation: string,
    path: string,
    item: T,
    token: string,
    query: Record<string, string> = {},
  ): Promise<Array<z.infer<T>>> {
    const all: Array<z.infer<T>> = [];
    let after: string | undefined;
    for (let pageNo = 0; pageNo < 100; pageNo++) {
      const answer = await this.call(operation, path, page(item), { token, query: { limit: '100', ...query, after } });
      all.push(...answer.data);
      after = answer.paging?.cursors?.after;
      if (!answer.paging?.next || !after) break;
    }
    return all;
  }

  exchangeCode(code: string, redirectUri: string | undefined): Promise<TokenAnswer> {
    return this.call('oauth.code_exchange', 'oauth/access_token', tokenAnswer, {
      query: { client_id: this.options.appId, client_secret: this.options.appSecret, redirect_uri: redirectUri, code },
      secrets: [code],
    });
  }

  /**
   * fb_exchange_token. With `expiresIn60Days`, the refresh of an expiring system-user token
   * (set_token_expires_in_60_days=true): Meta answers a new token valid 60 more days, and the old
   * one stays valid until its own expiry
   * (https://developers.facebook.com/docs/business-management-apis/system-users/install-apps-and-generate-tokens).
   */
  exchangeForLongLived(token: string, options: { expiresIn60Days?: boolean } = {}): Promise<TokenAnswer> {
    return this.call('oauth.fb_exchange', 'oauth/access_token', tokenAnswer, {
      query: {
        grant_type: 'fb_exchange_token',
        client_id: this.options.appId,
        client_secret: this.options.appSecret,
        ...(options.expiresIn60Days ? { set_token_expires_in_60_days: 'true' } : {}),
        fb_exchange_token: token,
      },
      secrets: [token],
    });
  }

  async debugToken(token: string): Promise<DebugToken> {
    const answer = await this.call('debug_token', 'debug_token', debugTokenAnswer, {
      token: this.appToken,
      query: { input_token: token },
      secrets: [token],
    });
    return answer.data;
  }

  /** The app's webhook subscriptions per object (`GET /{app-id}/subscriptions`, app token). */
  async appSubscriptions(opts: { timeoutMs?: number } = {}): Promise<AppSubscription[]> {
    const answer = await this.call(
      'app.subscriptions',
      `${encodeURIComponent(this.options.appId)}/subscriptions`,
      appSubscriptionsAnswer,
      { token: this.appToken, ...opts },
    );
    return answer.data;
  }

  listBusinesses(token: string) {
    return this.listAll('me.businesses', 'me/businesses', business, token, { fields: 'id,name' });
  }

  listOwnedWabas(token: string, businessId: string) {
    return this.listAll(
      'business.owned_wabas',
      `${encodeURIComponent(businessId)}/owned_whatsapp_business_accounts`,
      waba,
      token,
      { fields: 'id,name,currency,timezone_id' },
    );
  }

  listClientWabas(token: string, businessId: string) {
    return this.listAll(
      'business.client_wabas',
      `${encodeURIComponent(businessId)}/client_whatsapp_business_accounts`,
      waba,
      token,
      { fields: 'id,name,currency,timezone_id' },
    );
  }

  getWaba(token: string, wabaId: string) {
    return this.call('waba.get', encodeURIComponent(wabaId), waba, {
      token,
      query: { fields: 'id,name,currency,timezone_id' },
    });
  }

  listPhoneNumbers(token: string, wabaId: string) {
    return this.listAll('waba.phone_numbers', `${encodeURIComponent(wabaId)}/phone_numbers`, phoneNumber, token, {
      fields: `id,display_phone_number,verified_name,quality_rating,code_verification_status,platform_type,status,is_on_biz_app,name_status,${this.limitField},throughput`,
    });
  }

  getPhoneNumber(token: string, phoneNumberId: string) {
    return this.call('phone.get', encodeURIComponent(phoneNumberId), phoneNumber, {
      token,
      query: {
        fields: `id,display_phone_number,verified_name,quality_rating,name_status,${this.limitField},throughput,platform_type,code_verification_status,status,is_on_biz_app`,
      },
    });
  }

  subscribeApp(token: string, wabaId: string) {
    return this.call('waba.subscribe', `${encodeURIComponent(wabaId)}/subscribed_apps`, success, {
      method: 'POST',
      token,
    });
  }

  async isAppSubscribed(token: string, wabaId: string): Promise<boolean> {
    const answer = await this.call(
      'waba.subscriptions',
      `${encodeURIComponent(wabaId)}/subscribed_apps`,
      subscribedApps,
      { token },
    );
    return answer.data.some((app) => app.whatsapp_business_api_data?.id === this.options.appId);
  }

  unsubscribeApp(token: string, wabaId: string) {
    return this.call('waba.unsubscribe', `${encodeURIComponent(wabaId)}/subscribed_apps`, success, {
      method: 'DELETE',
      token,
    });
  }

  registerNumber(token: string, phoneNumberId: string, pin: string) {
    return this.call('phone.register', `${encodeURIComponent(phoneNumberId)}/register`, success, {
      method: 'POST',
      token,
      json: { messaging_product: 'whatsapp', pin },
      secrets: [pin],
    });
  }

  /**
   * Sets the number's two-step verification PIN (POST /{phone-number-id} {"pin"}):
   * https://developers.facebook.com/documentation/business-messaging/whatsapp/business-phone-numbers/two-step-verification/
   */
  setTwoStepPin(token: string, phoneNumberId: string, pin: string) {
    return this.call('phone.two_step', encodeURIComponent(phoneNumberId), success, {
      method: 'POST',
      token,
      json: { pin },
      secrets: [pin],
    });
  }

  /**
   * Sends a text. `to` (the phone number) when known, else `recipient` (the BSUID); Meta echoes
   * `callbackData` as `biz_opaque_callback_data` in every status of this message; `replyTo` quotes
   * the customer's message.
   */
  sendText(
    token: string,
    phoneNumberId: string,
    message: {
      to?: string | null;
      recipient?: string | null;
      body: string;
      replyTo?: string | null;
      callbackData?: string;
    },
  ): Promise<{ messageId: string }> {
    return this.sendMessage(token, phoneNumberId, {
      to: message.to,
      recipient: message.recipient,
      type: 'text',
      content: { body: message.body, preview_url: false },
      replyTo: message.replyTo,
      callbackData: message.callbackData,
    });
  }

  /**
   * Sends any message type the business starts: `content` is the object Meta expects under the
   * key named by `type` (template, interactive, image, ...), passed as the caller built it from
   * Meta's documented shapes
   * (https://developers.facebook.com/documentation/business-messaging/whatsapp/messages/send-messages).
   */
  async sendMessage(
    token: string,
    phoneNumberId: string,
    message: {
      to?: string | null;
      recipient?: string | null;
      type: string;
      content: Record<string, unknown>;
      replyTo?: string | null;
      callbackData?: string;
    },
  ): Promise<{ messageId: string }> {
    const address = message.to ? { to: message.to } : { recipient: message.recipient ?? '' };
    const answer = await this.call('messages.send', `${encodeURIComponent(phoneNumberId)}/messages`, sendAnswer, {
      method: 'POST',
      token,
      json: {
        messaging_product: 'whatsapp',
        recipient_type: 'individual',
        ...address,
        type: message.type,
        [message.type]: message.content,
        ...(message.replyTo ? { context: { message_id: message.replyTo } } : {}),
        ...(message.callbackData ? { biz_opaque_callback_data: message.callbackData } : {}),
      },
    });
    return { messageId: answer.messages[0]!.id };
  }

  /**
   * Asks Meta to send a coexistence number's contacts (`smb_app_state_sync`) or chat history
   * (`history`) as webhooks: once each, within 24 hours of onboarding.
   */
  requestBusinessAppData(token: string, phoneNumberId: string, syncType: 'smb_app_state_sync' | 'history') {
    return this.call('phone.smb_app_data', `${encodeURIComponent(phoneNumberId)}/smb_app_data`, smbAppDataAnswer, {
      method: 'POST',
      token,
      json: { messaging_product: 'whatsapp', sync_type: syncType },
    });
  }

  /** One page of the account's templates, with every field the catalogue keeps. */
  listMessageTemplatesPage(token: string, wabaId: string, after?: string) {
    return this.call('templates.list', `${encodeURIComponent(wabaId)}/message_templates`, page(messageTemplate), {
      token,
      query: { fields: MESSAGE_TEMPLATE_FIELDS, limit: '100', after },
    });
  }

  /** Submits a template for review; Meta answers {id, status, category}. */
  createMessageTemplate(token: string, wabaId: string, template: NewMessageTemplate) {
    return this.call('templates.create', `${encodeURIComponent(wabaId)}/message_templates`, createdTemplate, {
      method: 'POST',
      token,
      json: {
        name: template.name,
        language: template.language,
        category: template.category,
        components: template.components,
        ...(template.parameterFormat ? { parameter_format: template.parameterFormat } : {}),
      },
    });
  }

  /** Deletes every language of a template by name, or one language version with its id (hsm_id). */
  deleteMessageTemplate(token: string, wabaId: string, target: { name: string; templateId?: string }) {
    return this.call('templates.delete', `${encodeURIComponent(wabaId)}/message_templates`, success, {
      method: 'DELETE',
      token,
      query: { name: target.name, hsm_id: target.templateId },
    });
  }

  /**
   * Marks the message (and the ones before it) read; with `typing`, also shows the customer a
   * typing indicator, which Meta dismisses on the reply or after 25 seconds.
   */
  markRead(token: string, phoneNumberId: string, messageId: string, options: { typing?: boolean } = {}) {
    return this.call('messages.read', `${encodeURIComponent(phoneNumberId)}/messages`, success, {
      method: 'POST',
      token,
      json: {
        messaging_product: 'whatsapp',
        status: 'read',
        message_id: messageId,
        ...(options.typing ? { typing_indicator: { type: 'text' } } : {}),
      },
    });
  }
}

function networkError(operation: string, error: unknown, secrets: string[]): GraphError {
  const cause = (error as { cause?: { code?: string } }).cause;
  const code = cause?.code ?? (error as { name?: string }).name ?? 'unknown';
  // Refused or unresolvable: the request never left. Anything else may have reached Meta.
  const notSent = [
    'ECONNREFUSED',
    'ENOTFOUND',
    'EAI_AGAIN',
    'EHOSTUNREACH',
    'ENETUNREACH',
    'UND_ERR_CONNECT_TIMEOUT',
  ].includes(code);
  const reason = code === 'TimeoutError' ? 'no answer in time' : `network error ${code}`;
  return new GraphError(scrubSecrets(`${operation}: ${reason}`, secrets), {
    operation,
    outcome: notSent ? 'not_sent' : 'unknown',
  });
}

export function graphClientFromConfig(
  meta: { graphApiUrl: string; graphApiVersion: string; appId: string; appSecret: string; timeoutMs: number },
  hooks: Pick<GraphClientOptions, 'onCall' | 'cancellation'> = {},
): GraphClient {
  const { graphApiUrl, graphApiVersion, appId, appSecret, timeoutMs } = meta;
  return new GraphClient({ graphApiUrl, graphApiVersion, appId, appSecret, timeoutMs, ...hooks });
}
