// What the middlewares put on ctx.state, typed once for every router (`new Router<AppState>()`).
import type { Logger } from '../logger.js';
import type { AuthState } from './auth.js';

export interface AppState {
  /** The request's logger: every line carries its request id (src/http/app.ts). */
  log: Logger;
  /** The caller, once requireBusiness let the request through; read it with businessOf(ctx). */
  auth?: AuthState;
  /** The route's parsed input, set by validate(); its handler reads it typed (ValidatedContext). */
  input?: unknown;
}
