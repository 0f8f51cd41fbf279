// Webhook delivery as Meta does it: a signed JSON POST, delivered again with backoff until the
// receiver answers 200 (Meta keeps trying for days; the sandbox uses a short schedule for tests).
import { createHmac } from 'node:crypto';
import { webhookSignature } from './signing.js';

export interface DeliverySchedule {
  /** Waits before the 2nd, 3rd… attempt; the last one repeats (default 200, 500, 1000, 2000, 5000 ms). */
  delaysMs: number[];
  /** Give up after this many attempts (default: no limit besides maxAgeMs). */
  maxAttempts: number;
  /** Give up once the first attempt is this old (default 15 minutes). */
  maxAgeMs: number;
  /** How long one attempt waits for an answer (default 10 s). */
  timeoutMs: number;
}

export const DEFAULT_SCHEDULE: DeliverySchedule = {
  delaysMs: [200, 500, 1_000, 2_000, 5_000],
  maxAttempts: Number.POSITIVE_INFINITY,
  maxAgeMs: 15 * 60_000,
  timeoutMs: 10_000,
};

export interface WebhookMeta {
  field: string;
  wabaId: string;
  phoneNumberId?: string;
  /** The inbound message's wamid, or the wamid a status is about. */
  messageId?: string;
  /** Every inbound wamid a batched webhook carries. */
  messageIds?: string[];
  status?: string;
  event?: string;
}

export interface WebhookRecord extends WebhookMeta {
  webhookId: number;
  createdAt: string;
  attempts: number;
  delivered: boolean;
  gaveUp: boolean;
  /** Why it was never sent (Meta sends WABA webhooks only to subscribed apps). */
  skipped?: string;
  lastHttpStatus?: number | null;
  payload: unknown;
}

export interface DeliveryAttempt extends WebhookMeta {
  seq: number;
  webhookId: number;
  attempt: number;
  at: string;
  url: string | undefined;
  /** null when no HTTP answer came (network error, timeout, no URL configured). */
  httpStatus: number | null;
  error?: string;
  delivered: boolean;
}

export interface DeliveryFilter {
  field?: string;
  messageId?: string;
  phoneNumberId?: string;
  status?: string;
  webhookId?: number;
  delivered?: boolean;
  since?: number;
}

interface Pending {
  record: WebhookRecord;
  body: string;
  headers: Record<string, string>;
  firstAttemptAt: number;
  timer: NodeJS.Timeout | undefined;
  inFlight: Promise<void> | undefined;
}

export class WebhookDispatcher {
  private readonly pending = new Map<number, Pending>();
  private readonly records: WebhookRecord[] = [];
  private readonly attempts: DeliveryAttempt[] = [];
  private nextId = 1;
  private seq = 0;
  private closed = false;
  private readonly abort = new AbortController();

  constructor(
    private readonly deps: {
      appSecret: string;
      schedule: DeliverySchedule;
      /** Where webhooks for this WABA go right now (an override callback, or the app's URL). */
      resolveUrl: (wabaId: string) => string | undefined;
      log: (line: string) => void;
    },
  ) {}

  /** Queues a webhook; the first attempt starts at once. `skipped` records one that Meta would not send. */
  post(meta: WebhookMeta, payload: unknown, skipped?: string): WebhookRecord {
    const record: WebhookRecord = {
      ...meta,
      webhookId: this.nextId++,
      createdAt: new Date().toISOString(),
      attempts: 0,
      delivered: false,
      gaveUp: false,
      payload,
      ...(skipped ? { skipped } : {}),
    };
    this.records.push(record);
    if (skipped || this.closed) return record;
    const body = JSON.stringify(payload);
    const pending: Pending = {
      record,
      body,
      headers: {
        'content-type': 'application/json',
        'user-agent': 'facebookexternalua',
        'x-hub-signature-256': webhookSignature(body, this.deps.appSecret),
        'x-hub-signature': `sha1=${createHmac('sha1', this.deps.appSecret).update(body).digest('hex')}`,
      },
      firstAttemptAt: Date.now(),
      timer: undefined,
      inFlight: undefined,
    };
    this.pending.set(record.webhookId, pending);
    this.attemptNow(pending);
    return record;
  }

  /** Retries every waiting webhook now (for example after the webhook URL was set). */
  kick(): void {
    for (const pending of this.pending.values()) {
      if (pending.inFlight) continue;
      clearTimeout(pending.timer);
      this.attemptNow(pending);
    }
  }

  webhooks(filter: DeliveryFilter = {}): WebhookRecord[] {
    return this.records
      .filter((r) => matches(r, filter) && (filter.delivered === undefined || r.delivered === filter.delivered))
      .map((r) => ({ ...r }));
  }

  deliveries(filter: DeliveryFilter = {}): DeliveryAttempt[] {
    return this.attempts
      .filter((a) => matches(a, filter))
      .filter((a) => filter.delivered === undefined || a.delivered === filter.delivered)
      .filter((a) => filter.since === undefined || a.seq > filter.since)
      .map((a) => ({ ...a }));
  }

  pendingCount(): number {
    return this.pending.size;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.abort.abort();
    const inFlight = [...this.pending.values()].map((p) => (clearTimeout(p.timer), p.inFlight));
    this.pending.clear();
    await Promise.allSettled(inFlight);
  }

  private attemptNow(pending: Pending): void {
    pending.timer = undefined;
    pending.inFlight = this.attempt(pending).finally(() => {
      pending.inFlight = undefined;
    });
  }

  private async attempt(pending: Pending): Promise<void> {
    const { record } = pending;
    const url = this.deps.resolveUrl(record.wabaId);
    record.attempts += 1;
    let httpStatus: number | null = null;
    let error: string | undefined;
    if (!url) {
      error = 'no webhook URL configured';
    } else {
      try {
        const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.deps.schedule.timeoutMs)]);
        const res = await fetch(url, {
          method: 'POST',
          headers: pending.headers,
          body: pending.body,
          signal,
          redirect: 'manual',
        });
        httpStatus = res.status;
        await res.arrayBuffer().catch(() => undefined);
      } catch (caught) {
        error = (caught as Error).name === 'TimeoutError' ? 'timed out' : (caught as Error).message;
      }
    }
    if (this.closed) return;
    const delivered = httpStatus === 200;
    record.lastHttpStatus = httpStatus;
    this.attempts.push({
      seq: ++this.seq,
      webhookId: record.webhookId,
      field: record.field,
      wabaId: record.wabaId,
      ...(record.phoneNumberId ? { phoneNumberId: record.phoneNumberId } : {}),
      ...(record.messageId ? { messageId: record.messageId } : {}),
      ...(record.messageIds ? { messageIds: record.messageIds } : {}),
      ...(record.status ? { status: record.status } : {}),
      ...(record.event ? { event: record.event } : {}),
      attempt: record.attempts,
      at: new Date().toISOString(),
      url,
      httpStatus,
      ...(error ? { error } : {}),
      delivered,
    });
    if (delivered) {
      record.delivered = true;
      this.pending.delete(record.webhookId);
      return;
    }
    const { schedule } = this.deps;
    const age = Date.now() - pending.firstAttemptAt;
    if (record.attempts >= schedule.maxAttempts || age >= schedule.maxAgeMs) {
      record.gaveUp = true;
      this.pending.delete(record.webhookId);
      this.deps.log(`webhook ${record.webhookId} (${record.field}) given up after ${record.attempts} attempts`);
      return;
    }
    const delays = schedule.delaysMs.length ? schedule.delaysMs : DEFAULT_SCHEDULE.delaysMs;
    const delay = delays[Math.min(record.attempts - 1, delays.length - 1)] ?? 5_000;
    this.deps.log(
      `webhook ${record.webhookId} (${record.field}) attempt ${record.attempts}: ${httpStatus ?? error}; again in ${delay} ms`,
    );
    pending.timer = setTimeout(() => this.attemptNow(pending), delay);
    pending.timer.unref?.();
  }
}

function matches(item: WebhookMeta & { webhookId: number }, filter: DeliveryFilter): boolean {
  return (
    (filter.field === undefined || item.field === filter.field) &&
    (filter.messageId === undefined ||
      item.messageId === filter.messageId ||
      item.messageIds?.includes(filter.messageId) === true) &&
    (filter.phoneNumberId === undefined || item.phoneNumberId === filter.phoneNumberId) &&
    (filter.status === undefined || item.status === filter.status) &&
    (filter.webhookId === undefined || item.webhookId === filter.webhookId)
  );
}
