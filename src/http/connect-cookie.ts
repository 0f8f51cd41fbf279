// The cookie that binds an OAuth state to the browser that asked for it. The one-time hop on our
// origin sets it; Meta's callback must bring it back. One cookie per state (named after a prefix of
// the state's hash), so two connects in two tabs do not overwrite each other.
import type { Context } from 'koa';
import type { Config } from '../config.js';
import { sha256Hex } from '../crypto.js';
import { STATE_TTL_MS } from '../store/connect.js';

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * `__Host-` (Secure, Path=/, no Domain) on https and on loopback http: Chromium treats
 * http://localhost, 127.0.0.1 and [::1] as secure contexts and keeps Secure cookies there. Plain http
 * on any other host cannot keep a Secure cookie, so it gets a plain name without Secure.
 */
function connectCookieSecure(config: Config): boolean {
  const url = new URL(config.publicUrl);
  return url.protocol === 'https:' || LOOPBACK.has(url.hostname);
}

function connectCookieName(config: Config, stateHash: string): string {
  const name = `wa_connect_${stateHash.slice(0, 16)}`;
  return connectCookieSecure(config) ? `__Host-${name}` : name;
}

export function setConnectCookie(ctx: Context, config: Config, stateHash: string, nonce: string): void {
  const flags = ['Path=/', `Max-Age=${STATE_TTL_MS / 1000}`, 'HttpOnly', 'SameSite=Lax'];
  if (connectCookieSecure(config)) flags.push('Secure');
  // Set by hand: Koa's cookie helper refuses Secure cookies on http://localhost.
  ctx.append('Set-Cookie', `${connectCookieName(config, stateHash)}=${nonce}; ${flags.join('; ')}`);
}

/** The nonce the browser holds for this state, if any. */
export function readConnectNonce(ctx: Context, config: Config, state: string | undefined): string | undefined {
  if (!state) return undefined;
  const name = connectCookieName(config, sha256Hex(state));
  for (const part of ctx.get('cookie').split(';')) {
    const index = part.indexOf('=');
    if (index > 0 && part.slice(0, index).trim() === name) return part.slice(index + 1).trim();
  }
  return undefined;
}
