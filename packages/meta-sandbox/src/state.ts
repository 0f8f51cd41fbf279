// SandboxState: everything the sandbox knows, and every admin operation tests and the /sandbox
// HTTP endpoints use (accounts, tokens, faults, the call log, customers, account events).
import { dataDeletionRequest } from './data-deletion.js';
import { GraphError } from './errors.js';
import {
  accountEvent,
  applyNameDecision,
  applyQuality,
  type AccountEventInput,
  type FieldWebhook,
  type NameDecision,
  type QualityChange,
} from './events.js';
import { CallLog, FaultBook, type ActiveFault, type CallFilter, type CallRecord, type FaultSpec } from './faults.js';
import { SandboxMedia } from './media.js';
import { Messaging, type CustomerMessageInput, type CustomerMessageResult } from './messaging.js';
import type {
  CodeTokenKind,
  ConversationMessage,
  PhoneNumber,
  StatusMode,
  StatusValue,
  Waba,
  WhatsAppErrorDetail,
} from './model.js';
import { echoValue, historyValues, stateSyncValue } from './business-app.js';
import { fieldEnvelope, throughputUpgradeValue } from './payloads.js';
import { accountSummary, stateDump, type AccountSummary } from './views.js';
import { TemplateCatalogue } from './template-catalogue.js';
import { Templates } from './templates.js';
import {
  WebhookDispatcher,
  type DeliveryAttempt,
  type DeliveryFilter,
  type DeliverySchedule,
  type WebhookMeta,
  type WebhookRecord,
} from './webhooks.js';
import { World, type CreateAccountInput, type CreatedAccount } from './world.js';
import { isSubscribable, SUBSCRIBABLE_FIELDS, WEBHOOK_OBJECT } from './webhook-fields.js';

export interface SandboxStateOptions {
  appId: string;
  appSecret: string;
  appName: string;
  graphApiVersion: string;
  webhookUrl: string | undefined;
  statusDelayMs: number;
  /** How long a media download URL works (default 5 minutes, as Meta's). */
  mediaUrlTtlMs?: number;
  /** How long a new template stays PENDING before its review (default 300 ms). */
  templateReviewMs?: number;
  schedule: DeliverySchedule;
  log: (line: string) => void;
}

export interface NumberFacts {
  twoStepPin?: string | null;
  platformType?: PhoneNumber['platformType'];
  status?: string;
  codeVerificationStatus?: PhoneNumber['codeVerificationStatus'];
  isOnBizApp?: boolean;
}

export type StatusModeChange = Partial<Pick<StatusMode, 'stopAt' | 'windowError'>> & {
  fail?: WhatsAppErrorDetail | null;
};

export class SandboxState {
  readonly world: World;
  readonly callLog = new CallLog();
  readonly faultBook = new FaultBook();
  readonly dispatcher: WebhookDispatcher;
  readonly messaging: Messaging;
  /** Files of the media customers sent, served at GET /{media-id} and its download URL. */
  readonly media: SandboxMedia;
  /** Message templates and marketing preferences, as Meta's webhooks report them. */
  readonly templates: Templates;
  /** The Graph API's message_templates of each account, with a short review of new ones. */
  readonly catalogue: TemplateCatalogue;
  readonly appId: string;
  readonly appName: string;
  readonly graphApiVersion: string;
  webhookUrl: string | undefined;
  /**
   * The app's webhook fields for whatsapp_business_account, as set in the App Dashboard: every
   * field our list says is subscribable, until a test removes one to see the self check name it.
   */
  private readonly appFields = new Set<string>(SUBSCRIBABLE_FIELDS);
  /** Facebook Login for Business configurations whose token expires in 60 days; the others' never expire. */
  private readonly sixtyDayConfigurations = new Set<string>();
  private clockOffsetMs = 0;
  private readonly closers: Array<() => void> = [];

  constructor(private readonly options: SandboxStateOptions) {
    this.appId = options.appId;
    this.appName = options.appName;
    this.graphApiVersion = options.graphApiVersion;
    this.webhookUrl = options.webhookUrl;
    this.world = new World(options.appId, options.appName, () => this.now());
    this.dispatcher = new WebhookDispatcher({
      appSecret: options.appSecret,
      schedule: options.schedule,
      resolveUrl: (wabaId) => this.world.wabas.get(wabaId)?.subscription?.overrideCallbackUri ?? this.webhookUrl,
      log: options.log,
    });
    this.media = new SandboxMedia(() => this.now(), options.mediaUrlTtlMs);
    this.messaging = new Messaging({
      world: this.world,
      media: this.media,
      now: () => this.now(),
      statusDelayMs: options.statusDelayMs,
      post: (meta, payload) => this.postWebhook(meta, payload),
      // The account's catalogue, seeded on first sight as the Graph API's list is.
      templates: (wabaId, name, language) =>
        this.catalogue.templatesOf(wabaId).find((t) => t.name === name && t.language === language),
    });
    this.templates = new Templates({
      world: this.world,
      now: () => this.now(),
      post: (meta, payload) => this.postWebhook(meta, payload),
      customers: () => this.messaging.customerList(),
    });
    this.catalogue = new TemplateCatalogue({
      templates: this.templates,
      now: () => this.now(),
      reviewDelayMs: options.templateReviewMs ?? 300,
    });
  }

  /** The sandbox's clock (epoch ms): real time plus whatever advanceClock added. */
  now(): number {
    return Date.now() + this.clockOffsetMs;
  }

  /** Moves the sandbox's clock forward, so codes and tokens expire without waiting. */
  advanceClock(ms: number): void {
    this.clockOffsetMs += ms;
  }

  checkAppSecret(secret: string | undefined): boolean {
    return secret === this.options.appSecret;
  }

  setWebhookUrl(url: string): void {
    this.webhookUrl = url;
    this.dispatcher.kick();
  }

  // The app's own webhook subscriptions (GET /{app-id}/subscriptions)

  appSubscriptionList(): Array<{ object: string; callbackUrl: string; active: boolean; fields: string[] }> {
    return [{ object: WEBHOOK_OBJECT, callbackUrl: this.webhookUrl ?? '', active: true, fields: [...this.appFields] }];
  }

  removeAppSubscriptionField(field: string): void {
    this.appFields.delete(field);
  }

  addAppSubscriptionField(field: string): void {
    this.appFields.add(field);
  }

  // Accounts

  createAccount(input: CreateAccountInput = {}): CreatedAccount {
    return this.world.createAccount(input);
  }

  accounts(): AccountSummary[] {
    return [...this.world.wabas.values()].map((waba) => accountSummary(this.world, waba));
  }

  account(wabaId: string): AccountSummary {
    return accountSummary(this.world, this.waba(wabaId));
  }

  subscriptions(wabaId: string): {
    subscribed: boolean;
    subscribedAt: string | null;
    overrideCallbackUri: string | null;
  } {
    const subscription = this.waba(wabaId).subscription;
    return {
      subscribed: subscription !== undefined,
      subscribedAt: subscription ? new Date(subscription.subscribedAt).toISOString() : null,
      overrideCallbackUri: subscription?.overrideCallbackUri ?? null,
    };
  }

  /** Simulates a lost webhook subscription. */
  removeSubscriptions(wabaId: string): void {
    this.waba(wabaId).subscription = undefined;
  }

  /** The business removed the app: subscription gone, its tokens fail with 190/458, PARTNER_APP_UNINSTALLED posted. */
  uninstallApp(wabaId: string, notify = true): WebhookRecord | undefined {
    const waba = this.waba(wabaId);
    waba.appUninstalled = true;
    waba.subscription = undefined;
    for (const token of this.world.tokensForWaba(wabaId)) token.invalidated = { subcode: 458 };
    return notify
      ? this.emitAccountEvent({ wabaId, field: 'account_update', event: 'PARTNER_APP_UNINSTALLED' })
      : undefined;
  }

  /**
   * The person who connected the account removes the app from their Facebook account and asks for
   * their data to be deleted: Meta posts a signed_request naming their app-scoped user id to the
   * app's Data Deletion Request URL (here: the API that receives the webhooks). Answers the app's reply.
   */
  async requestDataDeletion(wabaId: string): Promise<{ status: number; body: unknown }> {
    if (!this.webhookUrl) throw new Error('no webhook URL: the sandbox does not know where the app is');
    const res = await fetch(new URL('/api/meta/data-deletion', this.webhookUrl), {
      method: 'POST',
      body: dataDeletionRequest(this.options.appSecret, this.waba(wabaId).userId, this.now()),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // Not JSON: kept as text for the caller to see.
    }
    return { status: res.status, body };
  }

  // Tokens

  /** A configuration's "token expiration" setting in the App Dashboard: never (default) or 60 days. */
  setConfigurationTokenExpiration(configId: string, expiration: 'never' | '60_days'): void {
    if (expiration === '60_days') this.sixtyDayConfigurations.add(configId);
    else this.sixtyDayConfigurations.delete(configId);
  }

  configurationTokenKind(configId: string): CodeTokenKind {
    return this.sixtyDayConfigurations.has(configId) ? 'business_60d' : 'business';
  }

  invalidateTokens(wabaId: string, subcode = 460): number {
    const tokens = this.world.tokensForWaba(this.waba(wabaId).id);
    for (const token of tokens) token.invalidated = { subcode };
    return tokens.length;
  }

  /** Every token that can see the WABA expires in this many seconds (0 or less: now). */
  setTokenExpiry(wabaId: string, expiresInSeconds: number): number {
    const tokens = this.world.tokensForWaba(this.waba(wabaId).id);
    const at = this.now() + Math.max(0, expiresInSeconds) * 1000;
    for (const token of tokens) token.expiresAt = at;
    return tokens.length;
  }

  setExtendOnExchange(wabaId: string, value: boolean): void {
    const user = this.world.users.get(this.waba(wabaId).userId);
    if (user) user.extendOnExchange = value;
  }

  // Phone numbers

  setRegistered(phoneNumberId: string, registered: boolean): void {
    const number = this.number(phoneNumberId);
    number.platformType = registered ? 'CLOUD_API' : 'NOT_APPLICABLE';
    number.throughputLevel = registered ? 'STANDARD' : 'NOT_APPLICABLE';
    number.status = registered ? 'CONNECTED' : 'PENDING';
  }

  /** What Meta reports for a number, set by a test: PIN, platform, status, verification, coexistence. */
  setNumberFacts(phoneNumberId: string, facts: NumberFacts): void {
    const number = this.number(phoneNumberId);
    if (facts.twoStepPin !== undefined) number.twoStepPin = facts.twoStepPin ?? undefined;
    if (facts.platformType !== undefined) number.platformType = facts.platformType;
    if (facts.status !== undefined) number.status = facts.status;
    if (facts.codeVerificationStatus !== undefined) number.codeVerificationStatus = facts.codeVerificationStatus;
    if (facts.isOnBizApp !== undefined) number.isOnBizApp = facts.isOnBizApp;
  }

  setStatusMode(phoneNumberId: string, change: StatusModeChange): StatusMode {
    const mode = this.number(phoneNumberId).statusMode;
    if (change.stopAt) mode.stopAt = change.stopAt;
    if (change.windowError) mode.windowError = change.windowError;
    if (change.fail !== undefined) mode.fail = change.fail ?? undefined;
    return { ...mode };
  }

  setNumberQuality(phoneNumberId: string, change: QualityChange): WebhookRecord | undefined {
    const webhook = applyQuality(this.number(phoneNumberId), change);
    // The messaging limit is the business portfolio's: every number of the portfolio reports it.
    if (change.messagingLimitTier) {
      const owner = this.waba(this.number(phoneNumberId).wabaId).ownerBusinessId;
      for (const number of this.world.numbers.values())
        if (this.world.wabas.get(number.wabaId)?.ownerBusinessId === owner)
          number.messagingLimitTier = change.messagingLimitTier;
    }
    return change.emit === false ? undefined : this.postField(this.number(phoneNumberId).wabaId, webhook);
  }

  /** Meta raises the number's throughput (messages per second) and says so in phone_number_quality_update. */
  upgradeThroughput(phoneNumberId: string, emit = true): WebhookRecord | undefined {
    const number = this.number(phoneNumberId);
    number.throughputLevel = 'HIGH';
    if (!emit) return undefined;
    const event = 'THROUGHPUT_UPGRADE';
    const value = throughputUpgradeValue(number);
    return this.postField(number.wabaId, {
      entryId: number.wabaId,
      field: 'phone_number_quality_update',
      value,
      phoneNumberId,
      event,
    });
  }

  setNameDecision(phoneNumberId: string, decision: NameDecision): WebhookRecord | undefined {
    const webhook = applyNameDecision(this.number(phoneNumberId), decision);
    return decision.emit === false ? undefined : this.postField(this.number(phoneNumberId).wabaId, webhook);
  }

  /** Posts an account-level webhook for a WABA in Meta's shape for its field and event. */
  emitAccountEvent(input: AccountEventInput): WebhookRecord {
    const waba = this.waba(input.wabaId);
    const numberId = input.phoneNumberId ?? waba.phoneNumberIds[0];
    const number = numberId === undefined ? undefined : this.number(numberId);
    return this.postField(
      waba.id,
      accountEvent(input, waba, number, { appId: this.appId, partnerBusinessId: this.world.partnerBusinessId }),
    );
  }

  // Coexistence numbers (WhatsApp Business app)

  /** Meta sends the syncs "in the following minutes": here just after the answer. */
  emitBusinessAppSync(number: PhoneNumber, syncType: string): void {
    const app = number.businessApp;
    if (!app) return;
    const values =
      syncType === 'history'
        ? historyValues(number, app)
        : [stateSyncValue(number, app, Math.floor(this.now() / 1000))];
    const field = syncType === 'history' ? 'history' : 'smb_app_state_sync';
    const timer = setTimeout(() => {
      for (const value of values)
        this.postField(number.wabaId, { entryId: number.wabaId, field, value, phoneNumberId: number.id, event: field });
    }, 50);
    this.onClose(() => clearTimeout(timer));
  }

  /** The owner writes to a customer from the WhatsApp Business app: Meta's smb_message_echoes webhook. */
  sendOwnerEcho(phoneNumberId: string, to: string, text: string): { messageId: string; webhookId: number } {
    const number = this.number(phoneNumberId);
    const { value, messageId } = echoValue(number, to, text, Math.floor(this.now() / 1000));
    const webhook = this.postField(number.wabaId, {
      entryId: number.wabaId,
      field: 'smb_message_echoes',
      value,
      phoneNumberId,
      event: 'smb_message_echoes',
    });
    return { messageId, webhookId: webhook.webhookId };
  }

  /** Whether the owner shares the chat history when asked (default yes). */
  setHistorySharing(phoneNumberId: string, shared: boolean): void {
    const app = this.number(phoneNumberId).businessApp;
    if (app) app.historyShared = shared;
  }

  // Customers and webhooks

  sendCustomerMessage(input: CustomerMessageInput): CustomerMessageResult {
    this.number(input.phoneNumberId);
    return this.messaging.receive(input);
  }

  /** Meta reports a later status of a sent message, e.g. `played` for a voice message. */
  reportStatus(phoneNumberId: string, messageId: string, status: StatusValue): WebhookRecord {
    return this.messaging.reportStatus(phoneNumberId, messageId, status);
  }

  /** Meta's errors webhook for the number (errors that belong to no message or status). */
  reportErrors(phoneNumberId: string, errors: WhatsAppErrorDetail[]): WebhookRecord {
    return this.messaging.reportErrors(phoneNumberId, errors);
  }

  /** Several customer messages to one number, delivered in a single webhook POST. */
  sendCustomerMessages(inputs: CustomerMessageInput[]): CustomerMessageResult[] {
    for (const input of inputs) this.number(input.phoneNumberId);
    return this.messaging.receiveBatch(inputs);
  }

  /** Records customer messages (one number) as Meta received them and returns the webhook body, unposted. */
  composeCustomerMessages(inputs: CustomerMessageInput[]): { payload: unknown; messageIds: string[] } {
    for (const input of inputs) this.number(input.phoneNumberId);
    const { payload, messageIds } = this.messaging.compose(inputs);
    return { payload, messageIds };
  }

  /** The customer's BSUID changes (a new one is made up unless given); posts user_id_update. */
  changeCustomerUserId(phoneNumberId: string, from: string, userId?: string) {
    this.number(phoneNumberId);
    return this.messaging.changeUserId(phoneNumberId, from, userId);
  }

  /** Every customer the sandbox knows, with the BSUID Meta gives them. */
  customerList() {
    return this.messaging.customerList();
  }

  conversation(phoneNumberId: string, customer: string): ConversationMessage[] {
    return this.messaging.conversation(phoneNumberId, customer);
  }

  deliveries(filter: DeliveryFilter = {}): DeliveryAttempt[] {
    return this.dispatcher.deliveries(filter);
  }

  webhooks(filter: DeliveryFilter = {}): WebhookRecord[] {
    return this.dispatcher.webhooks(filter);
  }

  // Faults and the call log

  addFault(spec: FaultSpec): ActiveFault {
    return this.faultBook.add(spec);
  }

  faults(): ActiveFault[] {
    return this.faultBook.list();
  }

  clearFaults(): void {
    this.faultBook.clear();
  }

  calls(filter: CallFilter = {}): CallRecord[] {
    return this.callLog.list(filter);
  }

  clearCalls(): void {
    this.callLog.clear();
  }

  /** A JSON view of the whole state without secrets (token and code values never appear). */
  dump(): Record<string, unknown> {
    return stateDump(this);
  }

  /** Registers something to stop when the sandbox closes (held requests, timers). */
  onClose(closer: () => void): void {
    this.closers.push(closer);
  }

  async close(): Promise<void> {
    for (const closer of this.closers.splice(0)) closer();
    this.messaging.close();
    this.catalogue.close();
    await this.dispatcher.close();
  }

  waba(wabaId: string): Waba {
    const waba = this.world.wabas.get(wabaId);
    if (!waba) throw new GraphError({ status: 404, code: 100, message: `No sandbox WABA ${wabaId}` });
    return waba;
  }

  number(phoneNumberId: string): PhoneNumber {
    const number = this.world.numbers.get(phoneNumberId);
    if (!number) throw new GraphError({ status: 404, code: 100, message: `No sandbox phone number ${phoneNumberId}` });
    return number;
  }

  /** Meta sends WABA webhooks only to subscribed apps; account_update reaches the app regardless. */
  private postWebhook(meta: WebhookMeta, payload: unknown): WebhookRecord {
    const waba = this.world.wabas.get(meta.wabaId);
    // Meta sends an app only the fields it subscribed to; fields the app cannot subscribe to
    // (user_id_update) and fields outside our list are sent as given.
    const skipped =
      isSubscribable(meta.field) && !this.appFields.has(meta.field)
        ? 'field_not_subscribed'
        : meta.field !== 'account_update' && !waba?.subscription
          ? 'not_subscribed'
          : undefined;
    return this.dispatcher.post(meta, payload, skipped);
  }

  private postField(wabaId: string, webhook: FieldWebhook): WebhookRecord {
    const payload = fieldEnvelope(webhook.entryId, webhook.field, webhook.value, Math.floor(this.now() / 1000));
    const meta: WebhookMeta = {
      field: webhook.field,
      wabaId,
      event: webhook.event,
      ...(webhook.phoneNumberId ? { phoneNumberId: webhook.phoneNumberId } : {}),
    };
    return this.postWebhook(meta, payload);
  }
}
