// Token endpoints: oauth/access_token (code exchange and fb_exchange_token) and debug_token,
// with Meta's error codes (101 app id, 1 secret, 100/36007 expired, 36008 redirect_uri, 36009 used).
import { fail, invalidParameter, tokenProblem, unparsableToken } from './errors.js';
import { isBusinessToken, LONG_LIVED_SECONDS, SHORT_LIVED_SECONDS, type AccessToken } from './model.js';
import { json, param, type MetaRequest, type Outcome } from './request.js';
import type { SandboxState } from './state.js';

const seconds = (ms: number) => Math.floor(ms / 1000);

function checkClient(req: MetaRequest, state: SandboxState): void {
  if (param(req, 'client_id') !== state.appId)
    fail({ status: 400, code: 101, message: 'Error validating application. Invalid application ID.' });
  if (!state.checkAppSecret(param(req, 'client_secret')))
    fail({ status: 400, code: 1, message: 'Error validating client secret.' });
}

function tokenAnswer(token: AccessToken, now: number): Record<string, unknown> {
  return {
    access_token: token.value,
    token_type: 'bearer',
    ...(token.expiresAt === 0 ? {} : { expires_in: Math.max(0, seconds(token.expiresAt - now)) }),
  };
}

export function accessToken(req: MetaRequest, state: SandboxState): Outcome {
  return param(req, 'grant_type') === 'fb_exchange_token' ? exchangeToken(req, state) : exchangeCode(req, state);
}

function exchangeCode(req: MetaRequest, state: SandboxState): Outcome {
  checkClient(req, state);
  const value = param(req, 'code');
  if (!value) throw invalidParameter('The parameter code is required');
  const code = state.world.codes.get(value);
  if (!code || code.clientId !== state.appId)
    return fail({ status: 400, code: 100, message: 'Invalid verification code format.' });
  const now = state.now();
  if (code.usedAt !== undefined)
    fail({ status: 400, code: 100, subcode: 36009, message: 'This authorization code has been used.' });
  if (now >= code.expiresAt)
    fail({ status: 400, code: 100, subcode: 36007, message: 'This authorization code has expired.' });
  const redirectUri = param(req, 'redirect_uri') ?? '';
  // Dialog codes need the dialog's redirect_uri verbatim; JS SDK (popup) codes are exchanged without one.
  if (redirectUri !== (code.redirectUri ?? '')) {
    fail({
      status: 400,
      code: 100,
      subcode: 36008,
      message:
        'Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request',
    });
  }
  code.usedAt = now;
  const expiresAt =
    code.tokenKind === 'business'
      ? 0
      : code.tokenKind === 'business_60d'
        ? now + LONG_LIVED_SECONDS * 1000
        : now + SHORT_LIVED_SECONDS * 1000;
  const token = state.world.issueToken(code, code.tokenKind, expiresAt);
  return json(tokenAnswer(token, now), 'applied');
}

function exchangeToken(req: MetaRequest, state: SandboxState): Outcome {
  checkClient(req, state);
  const value = param(req, 'fb_exchange_token');
  if (!value) throw invalidParameter('The parameter fb_exchange_token is required');
  const old = state.world.tokens.get(value);
  if (!old) throw unparsableToken(400);
  const now = state.now();
  const problem = tokenProblem(old, state.appId, now);
  if (problem) fail({ status: 400, code: problem.code, subcode: problem.subcode, message: problem.message });
  const user = state.world.users.get(old.ownerUserId);
  // Refreshing an expiring system-user token: GET oauth/access_token?grant_type=fb_exchange_token
  // &set_token_expires_in_60_days=true answers a new token valid 60 days from now; the old one
  // stays valid until its own expiry
  // (https://developers.facebook.com/docs/business-management-apis/system-users/install-apps-and-generate-tokens).
  // Without the flag Meta documents no extension, so the new token keeps the old expiry.
  const in60Days = param(req, 'set_token_expires_in_60_days') === 'true';
  let expiresAt: number;
  if (old.kind === 'business') expiresAt = old.expiresAt;
  else if (old.kind === 'business_60d') expiresAt = in60Days ? now + LONG_LIVED_SECONDS * 1000 : old.expiresAt;
  else if (old.kind === 'user_short' || user?.extendOnExchange !== false) expiresAt = now + LONG_LIVED_SECONDS * 1000;
  // Meta documents no way to extend a long-lived token: the exchange keeps the old expiry.
  else expiresAt = old.expiresAt;
  const token = state.world.issueToken(
    { userId: old.ownerUserId, scopes: old.scopes, wabaIds: old.wabaIds, businessIds: old.businessIds },
    isBusinessToken(old.kind) ? old.kind : 'user_long',
    expiresAt,
  );
  token.dataAccessExpiresAt = old.dataAccessExpiresAt;
  return json(tokenAnswer(token, now), 'applied', { setTokenExpiresIn60Days: in60Days });
}

export function debugToken(req: MetaRequest, state: SandboxState): Outcome {
  const appToken = req.accessToken;
  if (!appToken)
    fail({
      status: 400,
      code: 100,
      message:
        '(#100) You must provide an app access token, or a user access token that is an owner or developer of the app',
    });
  const [appId, secret] = (appToken ?? '').split('|');
  if (appId !== state.appId || !state.checkAppSecret(secret))
    fail({ status: 400, code: 190, message: 'Invalid OAuth access token signature.' });
  const input = param(req, 'input_token');
  if (!input) throw invalidParameter('The parameter input_token is required');
  const token = state.world.tokens.get(input);
  if (!token) {
    return json({
      data: {
        error: { code: 190, message: 'Invalid OAuth access token - Cannot parse access token' },
        is_valid: false,
        scopes: [],
      },
    });
  }
  const now = state.now();
  const problem = tokenProblem(token, state.appId, now);
  const granular: Array<{ scope: string; target_ids: string[] }> = [];
  for (const scope of ['whatsapp_business_management', 'whatsapp_business_messaging']) {
    if (token.scopes.includes(scope)) granular.push({ scope, target_ids: [...token.wabaIds] });
  }
  if (token.scopes.includes('business_management'))
    granular.push({ scope: 'business_management', target_ids: [...token.businessIds] });
  return json({
    data: {
      app_id: state.appId,
      type: isBusinessToken(token.kind) ? 'SYSTEM_USER' : 'USER',
      application: state.appName,
      data_access_expires_at: seconds(token.dataAccessExpiresAt),
      ...(problem ? { error: { code: problem.code, message: problem.message, subcode: problem.subcode } } : {}),
      expires_at: seconds(token.expiresAt),
      is_valid: problem === undefined,
      issued_at: seconds(token.issuedAt),
      scopes: [...token.scopes],
      granular_scopes: granular,
      user_id: token.userId,
    },
  });
}
