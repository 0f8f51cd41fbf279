// Which Meta operation a request is (the name faults and the call log use), and its handler.
import { dialog } from './dialog.js';
import type { Operation } from './faults.js';
import {
  businessAppData,
  businessWabas,
  getObject,
  meBusinesses,
  messages,
  phoneNumbers,
  registration,
  subscribedApps,
  twoStepPin,
} from './graph.js';
import { appSubscriptions } from './app.js';
import { accessToken, debugToken } from './oauth.js';
import { param, type MetaRequest, type Outcome } from './request.js';
import type { SandboxState } from './state.js';

export interface MatchedRoute {
  operation: Operation;
  /** The WABA, phone number or business id the call is about. */
  objectId?: string;
  handle: (req: MetaRequest) => Promise<Outcome> | Outcome;
}

const OBJECT_ID = /^\d+$/;

export function route(req: MetaRequest, state: SandboxState): MatchedRoute | undefined {
  const [first, edge, ...rest] = req.segments;
  const method = req.method;
  if (first === undefined || rest.length > 0) return undefined;
  const get = method === 'GET';

  if (first === 'dialog' && edge === 'oauth' && (get || method === 'POST'))
    return { operation: 'dialog', handle: (r) => dialog(r, state) };
  if (first === 'oauth' && edge === 'access_token' && (get || method === 'POST')) {
    const operation = param(req, 'grant_type') === 'fb_exchange_token' ? 'oauth.fb_exchange' : 'oauth.code_exchange';
    return { operation, handle: (r) => accessToken(r, state) };
  }
  if (first === 'debug_token' && edge === undefined && get)
    return { operation: 'debug_token', handle: (r) => debugToken(r, state) };
  if (first === 'me' && edge === 'businesses' && get)
    return { operation: 'me.businesses', handle: (r) => meBusinesses(r, state) };
  if (first === 'me' && edge === undefined && get)
    return { operation: 'object.get', handle: (r) => getObject(r, state, 'me') };
  if (first === state.appId && edge === 'subscriptions' && get)
    return { operation: 'app.subscriptions', objectId: first, handle: (r) => appSubscriptions(r, state) };
  // A media download URL (lookaside.fbsbx.com at Meta), unversioned.
  if (first === 'whatsapp_business' && edge === 'attachments' && get)
    return { operation: 'media.download', objectId: param(req, 'mid'), handle: (r) => state.media.download(r, state) };
  if (!OBJECT_ID.test(first)) return undefined;

  const id = first;
  if (edge === undefined) {
    if (method === 'POST' && state.world.numbers.has(id))
      return { operation: 'phone.two_step', objectId: id, handle: (r) => twoStepPin(r, state, id) };
    if (!get) return undefined;
    if (state.media.has(id))
      return { operation: 'media.get', objectId: id, handle: (r) => state.media.info(r, state, id) };
    const operation = state.world.wabas.has(id) ? 'waba.get' : state.world.numbers.has(id) ? 'phone.get' : 'object.get';
    return { operation, objectId: id, handle: (r) => getObject(r, state, id) };
  }
  switch (edge) {
    case 'owned_whatsapp_business_accounts':
      return get
        ? { operation: 'business.owned_wabas', objectId: id, handle: (r) => businessWabas(r, state, id, 'owned') }
        : undefined;
    case 'client_whatsapp_business_accounts':
      return get
        ? { operation: 'business.client_wabas', objectId: id, handle: (r) => businessWabas(r, state, id, 'client') }
        : undefined;
    case 'phone_numbers':
      return get
        ? { operation: 'waba.phone_numbers', objectId: id, handle: (r) => phoneNumbers(r, state, id) }
        : undefined;
    case 'subscribed_apps': {
      const operation =
        method === 'POST'
          ? 'waba.subscribe'
          : method === 'DELETE'
            ? 'waba.unsubscribe'
            : get
              ? 'waba.subscriptions'
              : undefined;
      return operation ? { operation, objectId: id, handle: (r) => subscribedApps(r, state, id) } : undefined;
    }
    case 'register':
      return method === 'POST'
        ? { operation: 'phone.register', objectId: id, handle: (r) => registration(r, state, id, true) }
        : undefined;
    case 'deregister':
      return method === 'POST'
        ? { operation: 'phone.deregister', objectId: id, handle: (r) => registration(r, state, id, false) }
        : undefined;
    case 'smb_app_data':
      return method === 'POST'
        ? { operation: 'phone.smb_app_data', objectId: id, handle: (r) => businessAppData(r, state, id) }
        : undefined;
    case 'message_templates': {
      if (!state.world.wabas.has(id)) return undefined;
      if (get) return { operation: 'templates.list', objectId: id, handle: (r) => state.catalogue.list(r, state, id) };
      if (method === 'POST')
        return { operation: 'templates.create', objectId: id, handle: (r) => state.catalogue.create(r, state, id) };
      if (method === 'DELETE')
        return { operation: 'templates.delete', objectId: id, handle: (r) => state.catalogue.delete(r, state, id) };
      return undefined;
    }
    case 'messages': {
      if (method !== 'POST') return undefined;
      const operation = req.params.status === 'read' ? 'messages.read' : 'messages.send';
      return { operation, objectId: id, handle: (r) => messages(r, state, id) };
    }
    default:
      return undefined;
  }
}
