// Application metrics. The API exposes them at GET /metrics (prom-client); the worker records its
// own (Graph API calls, message outcomes) through the Temporal SDK's meter, so they appear on
// WORKER_METRICS_PORT next to the SDK's metrics.
import { Runtime } from '@temporalio/worker';
import client from 'prom-client';

export interface GraphCallRecord {
  operation: string;
  ok: boolean;
  code?: number;
  status?: number;
  ms: number;
}

/** What the worker side records. */
export interface WorkerMetrics {
  graphCall(call: GraphCallRecord): void;
  messageOutcome(outcome: string): void;
  /** Rows the retention sweep deleted (or, for message text, cleared), by kind and table. */
  retentionDeleted(kind: string, table: string, rows: number): void;
  /** A payload the strict codec refused: someone started or signalled our workflows with plain input. */
  unencryptedRefused(): void;
}

const graphOutcome = (call: GraphCallRecord) =>
  call.ok ? 'ok' : call.status === undefined ? 'network_error' : 'error';

/** Worker metrics through the SDK's meter (exported by the Runtime's Prometheus endpoint). */
export function sdkWorkerMetrics(): WorkerMetrics {
  const meter = Runtime.instance().metricMeter;
  const calls = meter.createCounter(
    'waconnect_graph_api_calls',
    undefined,
    'Graph API calls by operation, outcome and Meta error code',
  );
  const latency = meter.createHistogram('waconnect_graph_api_latency', 'int', 'ms', 'Graph API call latency');
  const outcomes = meter.createCounter('waconnect_messages_handled', undefined, 'Inbound messages by outcome');
  const retained = meter.createCounter(
    'waconnect_retention_deleted',
    undefined,
    'Rows the retention sweep deleted (message text: cleared), by kind and table',
  );
  const refused = meter.createCounter(
    'waconnect_unencrypted_payloads_refused',
    undefined,
    'Payloads the worker refused because no waconnect client encrypted them',
  );
  return {
    graphCall: (call) => {
      calls.add(1, { operation: call.operation, outcome: graphOutcome(call), code: String(call.code ?? '') });
      latency.record(Math.round(call.ms), { operation: call.operation });
    },
    messageOutcome: (outcome) => outcomes.add(1, { outcome }),
    retentionDeleted: (kind, table, rows) => retained.add(rows, { kind, table }),
    unencryptedRefused: () => refused.add(1),
  };
}

export const noWorkerMetrics: WorkerMetrics = {
  graphCall: () => undefined,
  messageOutcome: () => undefined,
  retentionDeleted: () => undefined,
  unencryptedRefused: () => undefined,
};

/** What the message path looks like in PostgreSQL right now (read at each scrape). */
export interface MessagePathStats {
  unstartedStarts: number;
  oldestUnstartedStartSeconds: number;
  waitingTurns: number;
  oldestHeadWaitSeconds: number;
  rejectedItems: Array<{ kind: string; reason: string; count: number }>;
}

/** The API's registry: HTTP, webhooks, workflow starts, and integrations by token health. */
export class ApiMetrics {
  readonly registry = new client.Registry();
  readonly httpRequests = new client.Counter({
    name: 'waconnect_http_requests_total',
    help: 'HTTP requests by route, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [this.registry],
  });
  readonly httpDuration = new client.Histogram({
    name: 'waconnect_http_request_duration_seconds',
    help: 'HTTP request latency by route',
    labelNames: ['route', 'method'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly webhooks = new client.Counter({
    name: 'waconnect_webhooks_total',
    help: 'Webhook deliveries accepted or rejected, by reason',
    labelNames: ['outcome', 'reason'] as const,
    registers: [this.registry],
  });
  readonly webhookItems = new client.Counter({
    name: 'waconnect_webhook_items_total',
    help: 'Messages, statuses, account events and identity updates received in accepted webhooks',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  // One count per change, by field (a listed name, else `other`): shows what Meta sends that we
  // acknowledge without processing yet, without ever putting a change's values (phone numbers) in a label.
  readonly webhookFields = new client.Counter({
    name: 'waconnect_webhook_fields_total',
    help: 'Changes in accepted webhooks by field (listed name or other) and whether we process that field',
    labelNames: ['field', 'processed'] as const,
    registers: [this.registry],
  });
  readonly webhookBytesInFlight = new client.Gauge({
    name: 'waconnect_webhook_bytes_in_flight',
    help: 'Webhook body bytes this process holds right now (bounded by WEBHOOK_MAX_BYTES_IN_FLIGHT)',
    registers: [this.registry],
  });
  readonly rateLimited = new client.Counter({
    name: 'waconnect_rate_limited_total',
    help: 'Requests answered 429 by a per-business rate limit, by limit',
    labelNames: ['limit'] as const,
    registers: [this.registry],
  });
  readonly rateLimitFallbacks = new client.Counter({
    name: 'waconnect_rate_limit_fallbacks_total',
    help: 'Rate limit decisions made in process memory because PostgreSQL did not answer, by limit',
    labelNames: ['limit'] as const,
    registers: [this.registry],
  });
  readonly workflowStarts = new client.Counter({
    name: 'waconnect_workflow_starts_total',
    help: 'Workflow starts by workflow type and result (started, duplicate, error)',
    labelNames: ['workflow', 'result'] as const,
    registers: [this.registry],
  });

  constructor(
    integrationsByHealth?: () => Promise<Array<{ state: string; health: string; count: number }>>,
    messagePath?: () => Promise<MessagePathStats>,
  ) {
    client.collectDefaultMetrics({ register: this.registry, prefix: 'waconnect_api_' });
    if (messagePath) this.messagePathGauges(messagePath);
    if (integrationsByHealth) {
      new client.Gauge({
        name: 'waconnect_integrations',
        help: 'Integrations by state and token health',
        labelNames: ['state', 'token_health'] as const,
        registers: [this.registry],
        async collect() {
          this.reset();
          for (const row of await integrationsByHealth())
            this.set({ state: row.state, token_health: row.health }, row.count);
        },
      });
    }
  }

  private messagePathGauges(read: () => Promise<MessagePathStats>): void {
    // One query per scrape, shared by the gauges below.
    let pending: Promise<MessagePathStats> | undefined;
    const stats = () => {
      pending ??= read().finally(() => setTimeout(() => (pending = undefined), 0));
      return pending;
    };
    const gauge = (name: string, help: string, pick: (s: MessagePathStats) => number) =>
      new client.Gauge({
        name,
        help,
        registers: [this.registry],
        async collect() {
          this.set(pick(await stats()));
        },
      });
    gauge('waconnect_outbox_unstarted', 'Workflow starts committed but not started yet', (s) => s.unstartedStarts);
    gauge(
      'waconnect_outbox_oldest_unstarted_seconds',
      'Age of the oldest workflow start not started yet',
      (s) => s.oldestUnstartedStartSeconds,
    );
    gauge('waconnect_turns_waiting', 'Conversations with a message waiting for its turn', (s) => s.waitingTurns);
    gauge(
      'waconnect_head_of_line_wait_seconds',
      'How long the longest-waiting head of a conversation has waited',
      (s) => s.oldestHeadWaitSeconds,
    );
    new client.Gauge({
      name: 'waconnect_rejected_items',
      help: 'Webhook items PostgreSQL refused at intake (kept as raw JSON), by kind and reason',
      labelNames: ['kind', 'reason'] as const,
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const row of (await stats()).rejectedItems) this.set({ kind: row.kind, reason: row.reason }, row.count);
      },
    });
  }
}
