// What a Meta-facing handler gets (the parsed request) and gives back (an outcome the pipeline
// answers with, after fault injection and before the call log).
import type { Context } from 'koa';
import type { CallRecord } from './faults.js';

export interface MetaRequest {
  ctx: Context;
  method: string;
  /** Path segments after the version ("v25.0"), e.g. ["123", "phone_numbers"]. */
  segments: string[];
  version: string;
  /** Query parameters and body fields merged (body wins); values as sent (JSON bodies keep their types). */
  params: Record<string, unknown>;
  /** The token from `Authorization: Bearer` or the access_token parameter. */
  accessToken: string | undefined;
  /** Base URL for links this server hands out (paging.next). */
  publicUrl: string;
}

export type LogExtras = Pick<
  CallRecord,
  'messageContextId' | 'to' | 'textBody' | 'messageId' | 'typingIndicator' | 'setTokenExpiresIn60Days'
>;

export type Outcome =
  | {
      kind: 'json';
      status: number;
      body: unknown;
      effect: 'applied' | 'none';
      headers?: Record<string, string>;
      log?: LogExtras;
      errorCode?: number;
    }
  | { kind: 'html'; status: number; html: string; effect: 'applied' | 'none' }
  | { kind: 'bytes'; status: number; body: Buffer; contentType: string; effect: 'applied' | 'none' }
  | { kind: 'redirect'; location: string; effect: 'applied' | 'none' };

export const json = (body: unknown, effect: 'applied' | 'none' = 'none', log?: LogExtras): Outcome => ({
  kind: 'json',
  status: 200,
  body,
  effect,
  ...(log ? { log } : {}),
});

export function param(req: MetaRequest, name: string): string | undefined {
  const value = req.params[name];
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

export function htmlEscape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** A plain page: no external resources, readable without styles. */
export function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${htmlEscape(title)}</title>
<style>
  body { font-family: system-ui, sans-serif; max-width: 34rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.5; color: #1c1e21; }
  .banner { background: #fff4ce; border: 1px solid #e0c36a; padding: .5rem .75rem; border-radius: 4px; }
  label { display: block; font-weight: 600; margin-top: 1rem; }
  select, button { font-size: 1rem; margin-top: .5rem; }
  button { padding: .5rem 1.25rem; margin-right: .5rem; }
  button:focus-visible, select:focus-visible { outline: 3px solid #1877f2; outline-offset: 2px; }
</style>
</head>
<body>
<p class="banner" role="note">Sandbox Meta: a local stand-in for Facebook Login. No real Meta account is used.</p>
${body}
</body>
</html>`;
}
