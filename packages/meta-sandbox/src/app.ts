// The app node's webhook subscriptions: Meta's `GET /{app-id}/subscriptions`, read with the app
// access token `{app-id}|{app-secret}`. Answered in the shape Meta documents (Graph API reference
// "Application Subscriptions" and the Webhooks guide's "Subscriptions Edge"):
// {"data": [{"object", "callback_url", "active", "fields": [{"name", "version"}]}]}.
import { fail } from './errors.js';
import { json, type MetaRequest, type Outcome } from './request.js';
import type { SandboxState } from './state.js';

export function appSubscriptions(req: MetaRequest, state: SandboxState): Outcome {
  const [appId, secret] = (req.accessToken ?? '').split('|');
  // Meta wants the app's own token for this edge; a user token or another app's gets an OAuth error.
  if (!req.accessToken || appId !== state.appId || !state.checkAppSecret(secret))
    fail({ status: 400, code: 190, message: 'Invalid OAuth access token signature.' });
  return json({
    data: state.appSubscriptionList().map((s) => ({
      object: s.object,
      callback_url: s.callbackUrl,
      active: s.active,
      fields: s.fields.map((name) => ({ name, version: state.graphApiVersion })),
    })),
  });
}
