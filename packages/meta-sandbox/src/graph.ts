// Graph API objects: businesses, WhatsApp Business Accounts, phone numbers, webhook subscriptions,
// number registration and the Cloud API messages endpoint. Every call checks its token first.
import { randomBytes } from 'node:crypto';
import {
  fail,
  invalidParameter,
  missingMessagingPermission,
  noToken,
  permissionError,
  tokenError,
  tokenProblem,
  unparsableToken,
  unsupportedRequest,
} from './errors.js';
import { SYNC_TYPES, syncAnswer } from './business-app.js';
import type { AccessToken, PhoneNumber, Waba } from './model.js';
import { paged, selectFields } from './paging.js';
import { json, param, type MetaRequest, type Outcome } from './request.js';
import type { SandboxState } from './state.js';

const REGISTRATION_LIMIT = 10;
const REGISTRATION_WINDOW_MS = 72 * 3_600_000;

const WABA_DEFAULTS = ['id', 'name', 'timezone_id', 'message_template_namespace'] as const;
const WABA_LIST_DEFAULTS = ['id', 'name', 'currency', 'timezone_id', 'message_template_namespace'] as const;
const PHONE_DEFAULTS = [
  'verified_name',
  'code_verification_status',
  'display_phone_number',
  'quality_rating',
  'platform_type',
  'throughput',
  'last_onboarded_time',
] as const;

/** The Cloud API (phone-number endpoints) answers token errors with 401; the rest of Graph with 400. */
export function authenticate(req: MetaRequest, state: SandboxState, status = 400): AccessToken {
  if (!req.accessToken) throw noToken();
  const token = state.world.tokens.get(req.accessToken);
  if (!token) throw unparsableToken(status);
  const problem = tokenProblem(token, state.appId, state.now());
  if (problem) throw tokenError(problem, status);
  return token;
}

export function requireScope(token: AccessToken, scope: string): void {
  if (token.scopes.includes(scope)) return;
  throw scope === 'whatsapp_business_messaging' ? missingMessagingPermission() : permissionError();
}

export function visibleWaba(state: SandboxState, token: AccessToken, wabaId: string, method: string): Waba {
  const waba = state.world.wabas.get(wabaId);
  if (!waba || !state.world.canSeeWaba(token, wabaId)) throw unsupportedRequest(method, wabaId);
  return waba;
}

function visibleNumber(state: SandboxState, token: AccessToken, phoneNumberId: string, method: string): PhoneNumber {
  const number = state.world.numbers.get(phoneNumberId);
  if (!number || !state.world.canSeeWaba(token, number.wabaId)) throw unsupportedRequest(method, phoneNumberId);
  return number;
}

function wabaNode(state: SandboxState, waba: Waba): Record<string, unknown> {
  const owner = state.world.businesses.get(waba.ownerBusinessId);
  return {
    id: waba.id,
    name: waba.name,
    currency: waba.currency,
    timezone_id: waba.timezoneId,
    message_template_namespace: waba.messageTemplateNamespace,
    account_review_status: 'APPROVED',
    business_verification_status: 'verified',
    ownership_type: waba.partnerBusinessId ? 'CLIENT_OWNED' : 'SELF',
    owner_business_info: { id: waba.ownerBusinessId, name: owner?.name ?? '' },
    status: 'ACTIVE',
  };
}

/**
 * From v24.0 Meta reports the business portfolio's messaging limit as
 * `whatsapp_business_manager_messaging_limit` and the deprecated `messaging_limit_tier` as null;
 * v23.0 and older know only `messaging_limit_tier`
 * (https://developers.facebook.com/documentation/business-messaging/whatsapp/messaging-limits#via-api).
 */
function limitFields(number: PhoneNumber, version: string): Record<string, unknown> {
  const major = Number(/^v(\d+)/.exec(version)?.[1] ?? 0);
  return major >= 24
    ? { messaging_limit_tier: null, whatsapp_business_manager_messaging_limit: number.messagingLimitTier }
    : { messaging_limit_tier: number.messagingLimitTier };
}

function phoneNode(number: PhoneNumber, version: string): Record<string, unknown> {
  return {
    id: number.id,
    display_phone_number: number.displayPhoneNumber,
    verified_name: number.verifiedName,
    quality_rating: number.qualityRating,
    code_verification_status: number.codeVerificationStatus,
    platform_type: number.platformType,
    is_on_biz_app: number.isOnBizApp,
    throughput: { level: number.throughputLevel },
    ...limitFields(number, version),
    name_status: number.nameStatus,
    last_onboarded_time: new Date(number.lastOnboardedTime * 1000).toISOString().replace(/\.\d{3}Z$/, '+0000'),
    is_official_business_account: false,
    account_mode: 'LIVE',
    status: number.status ?? (number.platformType === 'CLOUD_API' ? 'CONNECTED' : 'PENDING'),
  };
}

export function meBusinesses(req: MetaRequest, state: SandboxState): Outcome {
  const token = authenticate(req, state);
  const businesses = token.businessIds
    .map((id) => state.world.businesses.get(id))
    .filter((b) => b !== undefined)
    .map((b) =>
      selectFields(req, { id: b.id, name: b.name, verification_status: 'verified' }, ['id', 'name'], 'Business'),
    );
  return json(paged(req, businesses));
}

export function businessWabas(
  req: MetaRequest,
  state: SandboxState,
  businessId: string,
  relation: 'owned' | 'client',
): Outcome {
  const token = authenticate(req, state);
  if (!state.world.canSeeBusiness(token, businessId)) throw unsupportedRequest('GET', businessId);
  const wabas = token.wabaIds
    .map((id) => state.world.wabas.get(id))
    .filter((w) => w !== undefined)
    .filter((w) =>
      relation === 'owned'
        ? w.ownerBusinessId === businessId && !w.partnerBusinessId
        : w.partnerBusinessId === businessId,
    )
    .map((w) => selectFields(req, wabaNode(state, w), WABA_LIST_DEFAULTS, 'WhatsAppBusinessAccount'));
  return json(paged(req, wabas));
}

export function getObject(req: MetaRequest, state: SandboxState, id: string): Outcome {
  const onPhone = state.world.numbers.has(id);
  const token = authenticate(req, state, onPhone ? 401 : 400);
  if (id === 'me') {
    const user = state.world.users.get(token.userId);
    return json({ id: token.userId, name: user?.name ?? `${state.appName} System User` });
  }
  if (onPhone) {
    const number = visibleNumber(state, token, id, 'GET');
    requireScope(token, 'whatsapp_business_management');
    return json(selectFields(req, phoneNode(number, req.version), PHONE_DEFAULTS, 'WhatsAppBusinessPhoneNumber'));
  }
  if (state.world.wabas.has(id)) {
    const waba = visibleWaba(state, token, id, 'GET');
    requireScope(token, 'whatsapp_business_management');
    return json(selectFields(req, wabaNode(state, waba), WABA_DEFAULTS, 'WhatsAppBusinessAccount'));
  }
  const business = state.world.businesses.get(id);
  if (business && state.world.canSeeBusiness(token, id))
    return json(
      selectFields(req, { id, name: business.name, verification_status: 'verified' }, ['id', 'name'], 'Business'),
    );
  throw unsupportedRequest('GET', id);
}

export function phoneNumbers(req: MetaRequest, state: SandboxState, wabaId: string): Outcome {
  const token = authenticate(req, state);
  const waba = visibleWaba(state, token, wabaId, 'GET');
  requireScope(token, 'whatsapp_business_management');
  const numbers = waba.phoneNumberIds
    .map((id) => state.world.numbers.get(id))
    .filter((n) => n !== undefined)
    .map((n) => selectFields(req, phoneNode(n, req.version), PHONE_DEFAULTS, 'WhatsAppBusinessPhoneNumber'));
  return json(paged(req, numbers));
}

export async function subscribedApps(req: MetaRequest, state: SandboxState, wabaId: string): Promise<Outcome> {
  const token = authenticate(req, state);
  const waba = visibleWaba(state, token, wabaId, req.method);
  requireScope(token, 'whatsapp_business_management');
  if (req.method === 'GET') {
    if (!waba.subscription) return json({ data: [] });
    return json({
      data: [
        {
          ...(waba.subscription.overrideCallbackUri
            ? { override_callback_uri: waba.subscription.overrideCallbackUri }
            : {}),
          whatsapp_business_api_data: {
            id: state.appId,
            link: `https://www.facebook.com/games/?app_id=${state.appId}`,
            name: state.appName,
          },
        },
      ],
    });
  }
  if (req.method === 'DELETE') {
    waba.subscription = undefined;
    return json({ success: true }, 'applied');
  }
  const override = param(req, 'override_callback_uri');
  if (override) await verifyCallback(override, param(req, 'verify_token') ?? '');
  waba.subscription = {
    subscribedAt: waba.subscription?.subscribedAt ?? state.now(),
    overrideCallbackUri: override || undefined,
  };
  return json({ success: true }, 'applied');
}

/** Meta verifies an override callback URL the way it verifies the app's: a GET challenge it must echo. */
async function verifyCallback(uri: string, verifyToken: string): Promise<void> {
  const challenge = String(randomBytes(4).readUInt32BE(0));
  let problem: string;
  try {
    const url = new URL(uri);
    url.searchParams.set('hub.mode', 'subscribe');
    url.searchParams.set('hub.challenge', challenge);
    url.searchParams.set('hub.verify_token', verifyToken);
    const res = await fetch(url, { signal: AbortSignal.timeout(5_000), redirect: 'manual' });
    const body = await res.text();
    if (res.status === 200 && body.trim() === challenge) return;
    problem = `HTTP Status Code = ${res.status}; HTTP Message = ${res.statusText}`;
  } catch (error) {
    problem = `Couldn't connect to server: ${(error as Error).message}`;
  }
  fail({
    status: 400,
    code: 2200,
    message: `(#2200) Callback verification failed with the following errors: ${problem}`,
  });
}

export function registration(req: MetaRequest, state: SandboxState, phoneNumberId: string, register: boolean): Outcome {
  const token = authenticate(req, state, 401);
  const number = visibleNumber(state, token, phoneNumberId, 'POST');
  requireScope(token, 'whatsapp_business_management');
  let pin: string | undefined;
  if (register) {
    if (param(req, 'messaging_product') !== 'whatsapp')
      throw invalidParameter('The parameter messaging_product is required.');
    pin = param(req, 'pin');
    if (!pin || !/^\d{6}$/.test(pin)) throw invalidParameter('Invalid parameter', 'Pin should be 6 digits.');
  }
  // Meta counts register and deregister calls together: 10 per number in a moving 72 hours.
  const now = state.now();
  number.registrationCalls = number.registrationCalls.filter((at) => now - at < REGISTRATION_WINDOW_MS);
  if (number.registrationCalls.length >= REGISTRATION_LIMIT)
    fail({
      status: 400,
      code: 133016,
      message: '(#133016) Account register deregister rate limit exceeded',
      details:
        'Registration or Deregistration failed because there were too many attempts for this phone number in a short period of time',
    });
  number.registrationCalls.push(now);
  if (pin !== undefined) {
    // A number with two-step verification takes only its own PIN; one without takes this PIN as it.
    if (number.twoStepPin !== undefined && number.twoStepPin !== pin)
      fail({
        status: 400,
        code: 133005,
        message: '(#133005) Two step verification PIN Mismatch',
        details: 'Two-step verification PIN incorrect.',
      });
    number.twoStepPin = pin;
  }
  state.setRegistered(number.id, register);
  return json({ success: true }, 'applied');
}

/** POST /{phone-number-id} {"pin"}: sets the number's two-step verification PIN. */
export function twoStepPin(req: MetaRequest, state: SandboxState, phoneNumberId: string): Outcome {
  const token = authenticate(req, state, 401);
  const number = visibleNumber(state, token, phoneNumberId, 'POST');
  requireScope(token, 'whatsapp_business_management');
  const pin = param(req, 'pin');
  if (!pin || !/^\d{6}$/.test(pin)) throw invalidParameter('Invalid parameter', 'Pin should be 6 digits.');
  number.twoStepPin = pin;
  return json({ success: true }, 'applied');
}

export function messages(req: MetaRequest, state: SandboxState, phoneNumberId: string): Outcome {
  const token = authenticate(req, state, 401);
  const number = visibleNumber(state, token, phoneNumberId, 'POST');
  requireScope(token, 'whatsapp_business_messaging');
  if (req.params.status === 'read') {
    const messageId = state.messaging.markRead(number, req.params);
    return json({ success: true }, 'applied', { messageId });
  }
  const sent = state.messaging.send(number, req.params);
  return json(sent.response, 'applied', {
    to: sent.to,
    messageId: sent.messageId,
    ...(sent.textBody !== undefined ? { textBody: sent.textBody } : {}),
    ...(sent.contextMessageId !== undefined ? { messageContextId: sent.contextMessageId } : {}),
  });
}

/**
 * POST /{phone-number-id}/smb_app_data: a coexistence number's contacts or chat history, once per
 * sync type; the webhooks follow the answer.
 */
export function businessAppData(req: MetaRequest, state: SandboxState, phoneNumberId: string): Outcome {
  const token = authenticate(req, state, 401);
  const number = visibleNumber(state, token, phoneNumberId, 'POST');
  requireScope(token, 'whatsapp_business_management');
  if (param(req, 'messaging_product') !== 'whatsapp')
    throw invalidParameter('The parameter messaging_product is required.');
  const syncType = param(req, 'sync_type');
  if (!syncType || !SYNC_TYPES.has(syncType))
    throw invalidParameter('Invalid parameter', 'sync_type must be smb_app_state_sync or history.');
  const app = number.businessApp;
  if (!number.isOnBizApp || !app)
    throw invalidParameter('Invalid parameter', 'The phone number is not onboarded from the WhatsApp Business app.');
  if (app.requested.has(syncType))
    throw invalidParameter('Invalid parameter', `A ${syncType} synchronization was already requested for this number.`);
  app.requested.add(syncType);
  state.emitBusinessAppSync(number, syncType);
  return json(syncAnswer(), 'applied');
}
