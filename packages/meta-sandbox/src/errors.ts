// Meta's error answers, in one place: {"error": {message, type, code, error_subcode?, error_user_title?,
// error_user_msg?, error_data?, fbtrace_id}}. Messages are Meta's own wording where it is documented.
import { fbtraceId } from './ids.js';
import type { AccessToken } from './model.js';

export interface MetaErrorSpec {
  status: number;
  message: string;
  type?: string;
  code: number;
  subcode?: number;
  userTitle?: string;
  userMessage?: string;
  /** WhatsApp errors carry error_data.details. */
  details?: string;
  isTransient?: boolean;
}

export class GraphError extends Error {
  override name = 'GraphError';
  constructor(readonly spec: MetaErrorSpec) {
    super(spec.message);
  }
}

export function errorBody(spec: MetaErrorSpec): { error: Record<string, unknown> } {
  const error: Record<string, unknown> = {
    message: spec.message,
    type: spec.type ?? 'OAuthException',
    code: spec.code,
  };
  if (spec.details !== undefined) error.error_data = { messaging_product: 'whatsapp', details: spec.details };
  if (spec.subcode !== undefined) error.error_subcode = spec.subcode;
  if (spec.isTransient !== undefined) error.is_transient = spec.isTransient;
  if (spec.userTitle !== undefined) error.error_user_title = spec.userTitle;
  if (spec.userMessage !== undefined) error.error_user_msg = spec.userMessage;
  error.fbtrace_id = fbtraceId();
  return { error };
}

export const fail = (spec: MetaErrorSpec): never => {
  throw new GraphError(spec);
};

export const invalidParameter = (message: string, details?: string): GraphError =>
  new GraphError({ status: 400, code: 100, message: `(#100) ${message}`, ...(details ? { details } : {}) });

export const noToken = (): GraphError =>
  new GraphError({ status: 400, code: 104, message: 'An access token is required to request this resource.' });

export const unparsableToken = (status: number): GraphError =>
  new GraphError({ status, code: 190, message: 'Invalid OAuth access token - Cannot parse access token' });

/** Object ids a token may not see get the same answer as ids that do not exist (Meta hides which). */
export const unsupportedRequest = (method: string, id: string): GraphError =>
  new GraphError({
    status: 400,
    type: 'GraphMethodException',
    code: 100,
    subcode: 33,
    message: `Unsupported ${method.toLowerCase()} request. Object with ID '${id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api`,
  });

export const permissionError = (): GraphError =>
  new GraphError({ status: 403, code: 200, message: '(#200) Permissions error' });

export const missingMessagingPermission = (): GraphError =>
  new GraphError({ status: 403, code: 10, message: '(#10) Application does not have permission for this action' });

export const unknownPath = (path: string): GraphError =>
  new GraphError({ status: 400, code: 2500, message: `Unknown path components: ${path}` });

function metaDate(ms: number): string {
  // Meta words it "Tuesday, 06-Feb-24 10:00:00 PST"; the exact wording is not part of any contract.
  return new Date(ms).toUTCString();
}

const TOKEN_MESSAGES: Record<number, (appId: string) => string> = {
  458: (appId) => `Error validating access token: The user has not authorized application ${appId}.`,
  459: () =>
    'Error validating access token: You cannot access the app till you log in to www.facebook.com and follow the instructions given.',
  460: () =>
    'Error validating access token: The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons.',
  464: () =>
    'Error validating access token: Sessions for the user are not allowed because the user is not a confirmed user.',
  467: () => 'Error validating access token: The session is invalid because the user logged out.',
};

/** Why a known token fails now, or undefined when it is valid. */
export function tokenProblem(
  token: AccessToken,
  appId: string,
  now: number,
): { code: 190; subcode: number; message: string } | undefined {
  if (token.invalidated) {
    const words =
      TOKEN_MESSAGES[token.invalidated.subcode]?.(appId) ?? 'Error validating access token: The session is invalid.';
    return { code: 190, subcode: token.invalidated.subcode, message: words };
  }
  if (token.expiresAt !== 0 && now >= token.expiresAt) {
    return {
      code: 190,
      subcode: 463,
      message: `Error validating access token: Session has expired on ${metaDate(token.expiresAt)}. The current time is ${metaDate(now)}.`,
    };
  }
  return undefined;
}

export const tokenError = (problem: { code: number; subcode: number; message: string }, status: number): GraphError =>
  new GraphError({ status, code: problem.code, subcode: problem.subcode, message: problem.message });

/** A 5xx or 429 with no error given: Meta's generic transient errors. */
export function defaultFaultError(status: number, operation: string): MetaErrorSpec {
  if (status === 429) {
    return operation.startsWith('messages.')
      ? {
          status,
          code: 130429,
          message: '(#130429) Rate limit hit',
          details: 'Cloud API message throughput has been reached.',
        }
      : { status, code: 4, message: '(#4) Application request limit reached', isTransient: true };
  }
  if (status >= 500)
    return {
      status,
      code: 2,
      message: 'An unexpected error has occurred. Please retry your request later.',
      isTransient: true,
    };
  return { status, code: 100, message: '(#100) Invalid parameter' };
}
