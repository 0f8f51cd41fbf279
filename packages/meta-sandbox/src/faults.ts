// Fault injection and the call log: which Meta calls fail next, and what every call did.
// The log keeps ids and message text only; tokens, secrets, codes and PINs never reach it.

export const OPERATIONS = [
  'dialog',
  'oauth.code_exchange',
  'oauth.fb_exchange',
  'debug_token',
  'me.businesses',
  'business.owned_wabas',
  'business.client_wabas',
  'waba.get',
  'waba.phone_numbers',
  'waba.subscribe',
  'waba.subscriptions',
  'waba.unsubscribe',
  'phone.get',
  'phone.register',
  'phone.deregister',
  'phone.two_step',
  'phone.smb_app_data',
  'messages.send',
  'messages.read',
  'media.get',
  'media.download',
  'app.subscriptions',
  'templates.list',
  'templates.create',
  'templates.delete',
] as const;

export type Operation = (typeof OPERATIONS)[number] | 'object.get' | 'unknown';

export interface FaultSpec {
  operation: Operation;
  /** How many matching calls fail (default 1). */
  times?: number;
  /** HTTP status of the failure (default 500). */
  status?: number;
  error?: { code: number; error_subcode?: number; message?: string; type?: string };
  /** Hold the request this long, then destroy the socket without answering. */
  hangMs?: number;
  /**
   * "none" (default) and its alias "before": the call is rejected before it takes effect.
   * "after": the call is processed and recorded, then the answer is the error (or the hang).
   */
  effect?: 'none' | 'before' | 'after';
  /** Only calls on this WABA / phone number / business id. */
  objectId?: string;
}

export interface ActiveFault extends Required<Pick<FaultSpec, 'operation' | 'status'>> {
  id: number;
  remaining: number;
  error: FaultSpec['error'];
  hangMs: number | undefined;
  effect: 'none' | 'after';
  objectId: string | undefined;
}

export interface CallRecord {
  seq: number;
  at: string;
  method: string;
  path: string;
  operation: Operation;
  objectId?: string;
  /** HTTP status answered; 0 when the sandbox hung up without answering. */
  status: number;
  faulted: boolean;
  /** Whether the call changed anything at the sandbox ("applied") or not ("none"). */
  effect: 'applied' | 'none';
  /** Meta error code of a failed call. */
  errorCode?: number;
  messageContextId?: string;
  to?: string;
  textBody?: string;
  messageId?: string;
  /** Mark read: the typing indicator asked for with it ("text"), as Meta shows it to the customer. */
  typingIndicator?: string;
  /** fb_exchange_token: whether set_token_expires_in_60_days=true was asked (never the token). */
  setTokenExpiresIn60Days?: boolean;
}

export interface CallFilter {
  operation?: string;
  since?: number;
  objectId?: string;
}

export class FaultBook {
  private faults: ActiveFault[] = [];
  private nextId = 1;

  add(spec: FaultSpec): ActiveFault {
    const fault: ActiveFault = {
      id: this.nextId++,
      operation: spec.operation,
      remaining: spec.times ?? 1,
      status: spec.status ?? 500,
      error: spec.error,
      hangMs: spec.hangMs,
      effect: spec.effect === 'after' ? 'after' : 'none',
      objectId: spec.objectId,
    };
    this.faults.push(fault);
    return fault;
  }

  /** Takes one use of the first fault matching this call, if any. */
  take(operation: Operation, objectId: string | undefined): ActiveFault | undefined {
    const fault = this.faults.find(
      (f) => f.remaining > 0 && f.operation === operation && (f.objectId === undefined || f.objectId === objectId),
    );
    if (!fault) return undefined;
    fault.remaining -= 1;
    this.faults = this.faults.filter((f) => f.remaining > 0);
    return { ...fault };
  }

  list(): ActiveFault[] {
    return this.faults.map((f) => ({ ...f }));
  }

  clear(): void {
    this.faults = [];
  }
}

export class CallLog {
  private records: CallRecord[] = [];
  private seq = 0;

  append(record: Omit<CallRecord, 'seq'>): CallRecord {
    const full = { seq: ++this.seq, ...record };
    this.records.push(full);
    return full;
  }

  list(filter: CallFilter = {}): CallRecord[] {
    return this.records
      .filter((r) => filter.operation === undefined || r.operation === filter.operation)
      .filter((r) => filter.since === undefined || r.seq > filter.since)
      .filter((r) => filter.objectId === undefined || r.objectId === filter.objectId)
      .map((r) => ({ ...r }));
  }

  clear(): void {
    this.records = [];
  }
}
