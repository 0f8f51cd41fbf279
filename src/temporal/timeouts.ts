// How long one call to Meta or to the HTTP responder may take, as configured, carried in workflow
// inputs so the workflows' activity timeouts follow the settings (workflow code cannot read them).
// Pure: imported by workflow code.

export interface CallTimeouts {
  /** GRAPH_TIMEOUT_MS: one Graph API request. */
  graphMs: number;
  /** REPLY_WEBHOOK_TIMEOUT_MS: one call to the HTTP responder. */
  responderMs: number;
}

/** The settings' defaults: what executions started before timeouts travelled in inputs use. */
export const DEFAULT_CALL_TIMEOUTS: CallTimeouts = { graphMs: 15_000, responderMs: 10_000 };

export function callTimeouts(config: { meta: { timeoutMs: number }; reply: { timeoutMs: number } }): CallTimeouts {
  return { graphMs: config.meta.timeoutMs, responderMs: config.reply.timeoutMs };
}
