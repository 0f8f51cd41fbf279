// The Meta objects the sandbox knows (users, businesses, WABAs, phone numbers), the grants that
// codes and tokens carry, and who may see what.
import { accessTokenValue, authorizationCode, IdFactory, templateNamespace, wamid } from './ids.js';
import {
  DATA_ACCESS_SECONDS,
  isBusinessToken,
  type AccessToken,
  type AuthorizationCode,
  type Business,
  type CodeTokenKind,
  type MetaUser,
  type PhoneNumber,
  type TokenKind,
  type Waba,
} from './model.js';

export interface CreateAccountInput {
  /** Phone numbers in the WABA (default 2; 0 gives a WABA without numbers). */
  numbers?: number;
  /** The WABA's name. */
  name?: string;
  /** true (default): the user's business owns the WABA; false: a client business shares it with the user's business. */
  owned?: boolean;
  /** Numbers registered for the Cloud API (default true). */
  registered?: boolean;
  /** The sandbox app is already subscribed to the WABA's webhooks (default false: the app subscribes itself). */
  subscribed?: boolean;
  /** Numbers that stay on the WhatsApp Business app (coexistence: is_on_biz_app, CLOUD_API), with contacts and history. */
  coexistence?: boolean;
}

export interface CreatedAccount {
  userId: string;
  businessId: string;
  /** The client business that owns a client (owned: false) WABA. */
  clientBusinessId?: string;
  wabaId: string;
  phoneNumberIds: string[];
  displayPhoneNumbers: string[];
}

export interface Grant {
  userId: string;
  scopes: string[];
  wabaIds: string[];
  businessIds: string[];
}

export class World {
  readonly ids = new IdFactory();
  readonly users = new Map<string, MetaUser>();
  readonly businesses = new Map<string, Business>();
  readonly wabas = new Map<string, Waba>();
  readonly numbers = new Map<string, PhoneNumber>();
  readonly tokens = new Map<string, AccessToken>();
  readonly codes = new Map<string, AuthorizationCode>();
  /** The business integration system user per client business (business tokens act as it). */
  private readonly systemUsers = new Map<string, string>();
  /** The app developer's own business portfolio (PARTNER_* account_update webhooks are addressed to it). */
  readonly partnerBusinessId: string;
  private accountCount = 0;

  constructor(
    readonly appId: string,
    readonly appName: string,
    private readonly now: () => number,
  ) {
    this.partnerBusinessId = this.ids.digits(16);
  }

  createAccount(input: CreateAccountInput = {}): CreatedAccount {
    const n = ++this.accountCount;
    const user: MetaUser = { id: this.ids.digits(17), name: `Sandbox User ${n}`, extendOnExchange: true };
    this.users.set(user.id, user);
    const business: Business = { id: this.ids.digits(16), name: `Sandbox Business ${n}`, userId: user.id };
    this.businesses.set(business.id, business);
    let owner = business;
    if (input.owned === false) {
      owner = { id: this.ids.digits(16), name: `Sandbox Client ${n}`, userId: user.id };
      this.businesses.set(owner.id, owner);
    }
    const waba: Waba = {
      id: this.ids.digits(15),
      name: input.name ?? `Sandbox WhatsApp Account ${n}`,
      currency: 'USD',
      timezoneId: '1',
      messageTemplateNamespace: templateNamespace(),
      ownerBusinessId: owner.id,
      partnerBusinessId: input.owned === false ? business.id : undefined,
      userId: user.id,
      phoneNumberIds: [],
      subscription: input.subscribed ? { subscribedAt: this.now(), overrideCallbackUri: undefined } : undefined,
      appUninstalled: false,
      createdAt: this.now(),
    };
    this.wabas.set(waba.id, waba);
    const count = input.numbers ?? 2;
    for (let i = 0; i < count; i++) {
      const number = this.addPhoneNumber(
        waba,
        input.registered ?? true,
        `${owner.name.replace('Sandbox ', '')} ${i + 1}`,
      );
      if (input.coexistence) this.onBusinessApp(number);
    }
    return {
      userId: user.id,
      businessId: business.id,
      ...(owner !== business ? { clientBusinessId: owner.id } : {}),
      wabaId: waba.id,
      phoneNumberIds: [...waba.phoneNumberIds],
      displayPhoneNumbers: waba.phoneNumberIds.map((id) => this.numbers.get(id)!.displayPhoneNumber),
    };
  }

  addPhoneNumber(waba: Waba, registered: boolean, verifiedName: string): PhoneNumber {
    const number: PhoneNumber = {
      id: this.ids.digits(15),
      wabaId: waba.id,
      displayPhoneNumber: this.ids.displayPhoneNumber(),
      verifiedName,
      qualityRating: 'GREEN',
      codeVerificationStatus: 'VERIFIED',
      platformType: registered ? 'CLOUD_API' : 'NOT_APPLICABLE',
      isOnBizApp: false,
      registrationCalls: [],
      throughputLevel: registered ? 'STANDARD' : 'NOT_APPLICABLE',
      messagingLimitTier: 'TIER_1K',
      nameStatus: 'APPROVED',
      statusMode: { stopAt: 'read', fail: undefined, windowError: 'response' },
      lastOnboardedTime: Math.floor(this.now() / 1000),
    };
    this.numbers.set(number.id, number);
    waba.phoneNumberIds.push(number.id);
    return number;
  }

  /** Makes the number a coexistence number with a small WhatsApp Business app of its own. */
  onBusinessApp(number: PhoneNumber): void {
    number.isOnBizApp = true;
    number.platformType = 'CLOUD_API';
    const now = Math.floor(this.now() / 1000);
    const customers = [0, 1].map(() => ({ phone: this.ids.digits(11), name: `App Contact ${this.ids.digits(3)}` }));
    number.businessApp = {
      contacts: customers.map((c) => ({ phone: c.phone, fullName: c.name, firstName: c.name.split(' ')[0]! })),
      history: customers.map((c, i) => ({
        customer: c.phone,
        messages: [
          { id: wamid(c.phone), fromBusiness: false, text: `Hello from ${c.name}`, timestamp: now - 7200 + i },
          { id: wamid(c.phone), fromBusiness: true, text: 'Hi! How can we help?', timestamp: now - 7100 + i },
        ],
      })),
      historyShared: true,
      requested: new Set(),
    };
  }

  /** What approving the dialog for this WABA grants: the WABA, and the business that sees it. */
  grantFor(wabaId: string, scopes: string[]): Grant {
    const waba = this.wabas.get(wabaId);
    if (!waba) throw new Error(`no WABA ${wabaId}`);
    return {
      userId: waba.userId,
      scopes,
      wabaIds: [waba.id],
      businessIds: [waba.partnerBusinessId ?? waba.ownerBusinessId],
    };
  }

  issueCode(
    grant: Grant,
    code: { clientId: string; redirectUri: string | undefined; tokenKind: CodeTokenKind; ttlMs: number },
  ): AuthorizationCode {
    const now = this.now();
    const record: AuthorizationCode = {
      value: authorizationCode(),
      clientId: code.clientId,
      redirectUri: code.redirectUri,
      tokenKind: code.tokenKind,
      ...grant,
      issuedAt: now,
      expiresAt: now + code.ttlMs,
      usedAt: undefined,
    };
    this.codes.set(record.value, record);
    return record;
  }

  issueToken(grant: Grant, kind: TokenKind, expiresAt: number): AccessToken {
    const now = this.now();
    const business = isBusinessToken(kind);
    const token: AccessToken = {
      value: accessTokenValue(),
      kind,
      userId: business ? this.systemUserFor(grant.businessIds[0] ?? grant.userId) : grant.userId,
      ownerUserId: grant.userId,
      scopes: [...grant.scopes],
      wabaIds: [...grant.wabaIds],
      businessIds: [...grant.businessIds],
      issuedAt: now,
      expiresAt,
      dataAccessExpiresAt: business ? 0 : now + DATA_ACCESS_SECONDS * 1000,
      invalidated: undefined,
    };
    this.tokens.set(token.value, token);
    return token;
  }

  /** A token sees a WABA it was granted, as long as the WABA still exists. */
  canSeeWaba(token: AccessToken, wabaId: string): boolean {
    return token.wabaIds.includes(wabaId) && this.wabas.has(wabaId);
  }

  canSeeBusiness(token: AccessToken, businessId: string): boolean {
    return token.businessIds.includes(businessId) && this.businesses.has(businessId);
  }

  /** Every token that can see this WABA (admin operations on "the WABA's tokens"). */
  tokensForWaba(wabaId: string): AccessToken[] {
    return [...this.tokens.values()].filter((t) => t.wabaIds.includes(wabaId));
  }

  private systemUserFor(businessId: string): string {
    let id = this.systemUsers.get(businessId);
    if (!id) {
      id = this.ids.digits(15);
      this.systemUsers.set(businessId, id);
    }
    return id;
  }
}
