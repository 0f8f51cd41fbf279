// The OAuth dialog (www.facebook.com/{version}/dialog/oauth): a plain consent page, its form
// answer (approve or deny), and the popup variant the JS SDK stand-in opens for Embedded Signup.
import { CODE_TTL_MS, POPUP_CODE_TTL_MS } from './model.js';
import { htmlEscape, page, param, type MetaRequest, type Outcome } from './request.js';
import type { SandboxState } from './state.js';

const CARRIED = [
  'client_id',
  'redirect_uri',
  'state',
  'response_type',
  'scope',
  'config_id',
  'display',
  'extras',
  'origin',
  'override_default_response_type',
];
const EMBEDDED_SIGNUP_SCOPES = [
  'business_management',
  'whatsapp_business_management',
  'whatsapp_business_messaging',
  'public_profile',
];

interface DialogRequest {
  popup: boolean;
  redirectUri: string | undefined;
  state: string | undefined;
  configId: string | undefined;
  scopes: string[];
  featureType: string | undefined;
  openerOrigin: string;
}

function errorPage(status: number, title: string, message: string): Outcome {
  return {
    kind: 'html',
    status,
    html: page(title, `<h1>${htmlEscape(title)}</h1><p>${htmlEscape(message)}</p>`),
    effect: 'none',
  };
}

function parseDialog(req: MetaRequest, state: SandboxState): DialogRequest | Outcome {
  if (param(req, 'client_id') !== state.appId)
    return errorPage(400, 'Invalid App ID', 'The provided app ID does not look like a valid app ID.');
  const popup = param(req, 'display') === 'popup';
  const redirectUri = param(req, 'redirect_uri') || undefined;
  if (!popup && (!redirectUri || !/^https?:\/\/[^/]/.test(redirectUri))) {
    return errorPage(400, "Can't load URL", 'The redirect_uri is missing or is not an absolute http(s) URL.');
  }
  const responseType = param(req, 'response_type') ?? 'code';
  if (responseType !== 'code')
    return errorPage(400, 'Unsupported response_type', 'The sandbox supports response_type=code only.');
  const configId = param(req, 'config_id') || undefined;
  const scopes = configId
    ? EMBEDDED_SIGNUP_SCOPES
    : [...new Set([...(param(req, 'scope') ?? '').split(/[\s,]+/).filter(Boolean), 'public_profile'])];
  let featureType: string | undefined;
  try {
    const extras: unknown = JSON.parse(param(req, 'extras') ?? '{}');
    const value = (extras as { featureType?: unknown } | null)?.featureType;
    if (typeof value === 'string') featureType = value;
  } catch {
    featureType = undefined;
  }
  const origin = param(req, 'origin') ?? '';
  return {
    popup,
    redirectUri,
    state: param(req, 'state'),
    configId,
    scopes,
    featureType,
    openerOrigin: /^https?:\/\/[^/]+$/.test(origin) ? origin : '*',
  };
}

export function dialog(req: MetaRequest, state: SandboxState): Outcome {
  const parsed = parseDialog(req, state);
  if ('kind' in parsed) return parsed;
  return req.method === 'POST' ? decide(req, state, parsed) : consentPage(req, state);
}

function consentPage(req: MetaRequest, state: SandboxState): Outcome {
  const hidden = CARRIED.map((name) => [name, param(req, name)] as const)
    .filter((entry): entry is readonly [string, string] => entry[1] !== undefined)
    .map(([name, value]) => `<input type="hidden" name="${name}" value="${htmlEscape(value)}">`)
    .join('\n');
  const options = [
    `<option value="new" selected>Create a new sandbox business (1 WhatsApp account, 2 numbers)</option>`,
    ...state
      .accounts()
      .map(
        (a) =>
          `<option value="${a.wabaId}">${htmlEscape(a.name)} (${a.wabaId}, ${a.phoneNumbers.length} numbers)</option>`,
      ),
  ].join('\n');
  const app = htmlEscape(state.appName);
  const html = page(
    `${state.appName} wants to connect your WhatsApp Business account`,
    `<h1>Sandbox Meta: ${app} wants to connect your WhatsApp Business account</h1>
<form method="post" action="${htmlEscape(req.ctx.path)}">
${hidden}
<label for="account">WhatsApp Business account to share with ${app}</label>
<select id="account" name="account">
${options}
</select>
<p>
<button type="submit" name="decision" value="approve">Continue</button>
<button type="submit" name="decision" value="deny">Cancel</button>
</p>
</form>`,
  );
  return { kind: 'html', status: 200, html, effect: 'none' };
}

function decide(req: MetaRequest, state: SandboxState, dialogRequest: DialogRequest): Outcome {
  const approve = param(req, 'decision') === 'approve';
  if (!approve) {
    if (dialogRequest.popup) {
      const sessionInfo = {
        data: { current_step: 'BUSINESS_ACCOUNT_SELECTION' },
        type: 'WA_EMBEDDED_SIGNUP',
        event: 'CANCEL',
      };
      return popupResult(dialogRequest, sessionInfo, { authResponse: null, status: 'unknown' }, 'none');
    }
    return {
      kind: 'redirect',
      location: withQuery(dialogRequest.redirectUri!, {
        error: 'access_denied',
        error_code: '200',
        error_description: 'Permissions error',
        error_reason: 'user_denied',
        ...(dialogRequest.state !== undefined ? { state: dialogRequest.state } : {}),
      }),
      effect: 'none',
    };
  }
  const account = param(req, 'account') ?? 'new';
  // Onboarding a WhatsApp Business app number: one number that stays on the app (coexistence).
  const appOnboarding = dialogRequest.featureType === 'whatsapp_business_app_onboarding';
  const wabaId =
    account === 'new'
      ? state.createAccount(
          appOnboarding
            ? { numbers: 1, owned: true, coexistence: true }
            : { numbers: 2, owned: true, registered: true },
        ).wabaId
      : account;
  const waba = state.world.wabas.get(wabaId);
  if (!waba) return errorPage(400, 'Unknown account', `No sandbox WhatsApp Business account ${wabaId}.`);
  waba.appUninstalled = false;
  const code = state.world.issueCode(state.world.grantFor(wabaId, dialogRequest.scopes), {
    clientId: state.appId,
    redirectUri: dialogRequest.popup ? undefined : dialogRequest.redirectUri,
    tokenKind: dialogRequest.configId ? state.configurationTokenKind(dialogRequest.configId) : 'user_short',
    ttlMs: dialogRequest.popup ? POPUP_CODE_TTL_MS : CODE_TTL_MS,
  });
  // Embedded Signup completion also reaches the partner as an account_update webhook.
  if (dialogRequest.configId)
    state.emitAccountEvent({ wabaId, field: 'account_update', event: 'PARTNER_APP_INSTALLED' });
  if (!dialogRequest.popup) {
    const query = { code: code.value, ...(dialogRequest.state !== undefined ? { state: dialogRequest.state } : {}) };
    return { kind: 'redirect', location: withQuery(dialogRequest.redirectUri!, query), effect: 'applied' };
  }
  const phoneNumberId = waba.phoneNumberIds[0];
  const event =
    dialogRequest.featureType === 'whatsapp_business_app_onboarding'
      ? 'FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING'
      : dialogRequest.featureType === 'only_waba_sharing' || phoneNumberId === undefined
        ? 'FINISH_ONLY_WABA'
        : 'FINISH';
  const data = {
    ...(event !== 'FINISH_ONLY_WABA' && phoneNumberId ? { phone_number_id: phoneNumberId } : {}),
    waba_id: waba.id,
    business_id: waba.ownerBusinessId,
  };
  const authResponse = {
    code: code.value,
    userID: null,
    expiresIn: null,
    graphDomain: 'facebook',
    data_access_expiration_time: null,
  };
  return popupResult(
    dialogRequest,
    { data, type: 'WA_EMBEDDED_SIGNUP', event },
    { authResponse, status: 'connected' },
    'applied',
  );
}

/** Meta appends `#_=_` to the redirect; browsers keep it, servers never see it. */
function withQuery(base: string, query: Record<string, string>): string {
  const url = new URL(base);
  for (const [key, value] of Object.entries(query)) url.searchParams.set(key, value);
  url.hash = '_=_';
  return url.toString();
}

/**
 * The popup's last page: posts the session info event (a JSON string, as Meta's) and the login
 * response for the SDK stand-in to the opener, then closes. The same data sits in a JSON script
 * element so tests can read it without a browser.
 */
function popupResult(
  dialogRequest: DialogRequest,
  sessionInfo: Record<string, unknown>,
  response: Record<string, unknown>,
  effect: 'applied' | 'none',
): Outcome {
  const result = JSON.stringify({ sessionInfo, response, targetOrigin: dialogRequest.openerOrigin }).replace(
    /</g,
    '\\u003c',
  );
  const html = page(
    'Sandbox Meta',
    `<h1>${response.status === 'connected' ? 'Connected' : 'Cancelled'}</h1>
<p>You can close this window.</p>
<script type="application/json" id="sandbox-fb-result">${result}</script>
<script>
(function () {
  var r = JSON.parse(document.getElementById('sandbox-fb-result').textContent);
  if (window.opener) {
    window.opener.postMessage(JSON.stringify(r.sessionInfo), r.targetOrigin);
    window.opener.postMessage({ type: 'SANDBOX_FB_LOGIN_RESPONSE', response: r.response }, r.targetOrigin);
  }
  setTimeout(function () { window.close(); }, 100);
})();
</script>`,
  );
  return { kind: 'html', status: 200, html, effect };
}
