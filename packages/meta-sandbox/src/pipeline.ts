// The Meta-facing middleware: parses the request, finds its operation, applies an injected fault
// (before or after the call takes effect), answers in Meta's format and appends to the call log.
import type { Context, Middleware } from 'koa';
import { readRawBody } from './body.js';
import { errorBody, GraphError, defaultFaultError, unknownPath, type MetaErrorSpec } from './errors.js';
import type { ActiveFault } from './faults.js';
import type { LogExtras, MetaRequest, Outcome } from './request.js';
import { page } from './request.js';
import { route } from './routes.js';
import type { SandboxState } from './state.js';

const VERSION = /^v\d+\.\d+$/;
const BODY_LIMIT = 1024 * 1024;

export function metaPipeline(
  state: SandboxState,
  options: { publicUrl: string | undefined; defaultVersion: string },
): Middleware {
  return async (ctx, next) => {
    if (ctx.path === '/' || ctx.path === '/sdk.js' || ctx.path === '/favicon.ico' || ctx.path.startsWith('/sandbox'))
      return next();
    const all = ctx.path.split('/').filter(Boolean);
    const versioned = all[0] !== undefined && VERSION.test(all[0]);
    const req: MetaRequest = {
      ctx,
      method: ctx.method,
      segments: versioned ? all.slice(1) : all,
      version: versioned ? all[0]! : options.defaultVersion,
      params: {},
      accessToken: undefined,
      publicUrl: options.publicUrl ?? `${ctx.protocol}://${ctx.host}`,
    };
    let parseError: GraphError | undefined;
    try {
      req.params = { ...flatQuery(ctx), ...(await readBody(ctx)) };
    } catch (error) {
      parseError =
        error instanceof GraphError
          ? error
          : new GraphError({ status: 400, code: 100, message: '(#100) Could not read the request body' });
    }
    req.accessToken =
      bearer(ctx) ?? (typeof req.params.access_token === 'string' ? req.params.access_token : undefined);

    const matched = route(req, state);
    const operation = matched?.operation ?? 'unknown';
    const objectId = matched?.objectId;
    const base = {
      at: new Date(state.now()).toISOString(),
      method: ctx.method,
      path: ctx.path,
      operation,
      ...(objectId ? { objectId } : {}),
    };
    // What a send asked for is logged even when it was refused or faulted before taking effect.
    const asked = requestExtras(operation, req.params);

    const fault = state.faultBook.take(operation, objectId);
    let outcome: Outcome;
    if (fault && fault.effect === 'none') {
      outcome = { kind: 'json', status: 0, body: null, effect: 'none' };
    } else if (parseError) {
      outcome = errorOutcome(parseError.spec);
    } else if (!matched) {
      outcome = errorOutcome(unknownPath(ctx.path).spec);
    } else {
      outcome = await run(() => matched.handle(req));
    }

    if (fault) {
      const hang = fault.hangMs !== undefined;
      state.callLog.append({
        ...base,
        status: hang ? 0 : fault.status,
        faulted: true,
        effect: outcome.effect,
        ...asked,
        ...logExtras(outcome),
        errorCode: faultSpec(fault, operation).code,
      });
      if (hang) return hangUp(ctx, fault.hangMs ?? 0, state);
      if (operation === 'dialog')
        return send(ctx, {
          kind: 'html',
          status: fault.status,
          html: page(
            'Error',
            '<h1>Sorry, something went wrong.</h1><p>We are working on getting this fixed as soon as we can.</p>',
          ),
          effect: 'none',
        });
      return send(ctx, errorOutcome(faultSpec(fault, operation)));
    }
    state.callLog.append({
      ...base,
      status: outcome.kind === 'redirect' ? 302 : outcome.status,
      faulted: false,
      effect: outcome.effect,
      ...asked,
      ...logExtras(outcome),
      ...(outcome.kind === 'json' && outcome.errorCode !== undefined ? { errorCode: outcome.errorCode } : {}),
    });
    send(ctx, outcome);
  };
}

async function run(handle: () => Promise<Outcome> | Outcome): Promise<Outcome> {
  try {
    return await handle();
  } catch (error) {
    if (error instanceof GraphError) return errorOutcome(error.spec);
    throw error;
  }
}

function errorOutcome(spec: MetaErrorSpec): Outcome {
  const headers: Record<string, string> = {};
  if (spec.code === 190 || spec.code === 104)
    headers['www-authenticate'] = `OAuth "Facebook Platform" "invalid_token" "${spec.message.replace(/"/g, "'")}"`;
  return { kind: 'json', status: spec.status, body: errorBody(spec), effect: 'none', headers, errorCode: spec.code };
}

function faultSpec(fault: ActiveFault, operation: string): MetaErrorSpec {
  const fallback = defaultFaultError(fault.status, operation);
  if (!fault.error) return fallback;
  return {
    status: fault.status,
    code: fault.error.code,
    message: fault.error.message ?? fallback.message,
    ...(fault.error.type ? { type: fault.error.type } : {}),
    ...(fault.error.error_subcode !== undefined ? { subcode: fault.error.error_subcode } : {}),
    ...(fault.error.code === fallback.code && fallback.details ? { details: fallback.details } : {}),
  };
}

function requestExtras(operation: string, params: Record<string, unknown>): LogExtras {
  if (operation === 'messages.read') {
    const typing = (params.typing_indicator as { type?: unknown } | undefined)?.type;
    return {
      ...(typeof params.message_id === 'string' ? { messageId: params.message_id } : {}),
      ...(typeof typing === 'string' ? { typingIndicator: typing } : {}),
    };
  }
  if (operation !== 'messages.send') return {};
  const text = params.text as { body?: unknown } | undefined;
  const context = params.context as { message_id?: unknown } | undefined;
  return {
    ...(typeof params.to === 'string' || typeof params.to === 'number' ? { to: String(params.to) } : {}),
    ...(typeof text?.body === 'string' ? { textBody: text.body } : {}),
    ...(typeof context?.message_id === 'string' ? { messageContextId: context.message_id } : {}),
  };
}

function logExtras(outcome: Outcome) {
  return outcome.kind === 'json' && outcome.log ? outcome.log : {};
}

function send(ctx: Context, outcome: Outcome): void {
  if (outcome.kind === 'redirect') {
    ctx.status = 302;
    ctx.set('Location', outcome.location);
    ctx.body = '';
    return;
  }
  ctx.status = outcome.status;
  ctx.set('Cache-Control', 'no-store');
  if (outcome.kind === 'html') {
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = outcome.html;
    return;
  }
  if (outcome.kind === 'bytes') {
    ctx.set('Content-Type', outcome.contentType);
    ctx.body = outcome.body;
    return;
  }
  if (outcome.headers) ctx.set(outcome.headers);
  ctx.body = outcome.body;
}

/** Holds the request, then destroys the socket without an answer ("the response was lost"). */
function hangUp(ctx: Context, ms: number, state: SandboxState): void {
  ctx.respond = false;
  const socket = ctx.req.socket;
  const timer = setTimeout(() => socket.destroy(), ms);
  state.onClose(() => {
    clearTimeout(timer);
    socket.destroy();
  });
}

function bearer(ctx: Context): string | undefined {
  const match = /^(?:Bearer|OAuth)\s+(\S+)$/i.exec(ctx.get('authorization'));
  return match?.[1];
}

function flatQuery(ctx: Context): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(ctx.query)) out[key] = Array.isArray(value) ? value[0] : value;
  return out;
}

async function readBody(ctx: Context): Promise<Record<string, unknown>> {
  if (ctx.method === 'GET' || ctx.method === 'HEAD') return {};
  const raw = await readRawBody(ctx, BODY_LIMIT).catch(() => {
    throw new GraphError({ status: 400, code: 100, message: '(#100) Could not read the request body' });
  });
  if (raw.length === 0) return {};
  const text = raw.toString('utf8');
  if (ctx.is('application/x-www-form-urlencoded')) return Object.fromEntries(new URLSearchParams(text));
  if (ctx.is('application/json') || /^\s*[{[]/.test(text)) {
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))
        return parsed as Record<string, unknown>;
    } catch {
      // falls through to the error below
    }
    throw new GraphError({ status: 400, code: 100, message: '(#100) The request body is not valid JSON' });
  }
  return Object.fromEntries(new URLSearchParams(text));
}
