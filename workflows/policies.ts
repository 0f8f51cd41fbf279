// Activity option presets shared by the workflows (like samples-typescript's saga presets), and the
// one rule for database steps: local activities for a few minutes, then a regular activity.
import {
  ActivityFailure,
  ApplicationFailure,
  isCancellation,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  type ActivityInterfaceFor,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { DEFAULT_CALL_TIMEOUTS, type CallTimeouts } from '../src/temporal/timeouts.js';

/** Room for the activity's own work around one call (reading the token, writing the result). */
const MARGIN_MS = 5_000;

/**
 * One Graph call per attempt: an attempt may take the configured Graph timeout; back off for a
 * few minutes before calling Meta unavailable.
 */
export function graphCall(timeouts: CallTimeouts = DEFAULT_CALL_TIMEOUTS) {
  const attemptMs = timeouts.graphMs + MARGIN_MS;
  return {
    startToCloseTimeout: attemptMs,
    scheduleToCloseTimeout: Math.max(5 * 60_000, 6 * attemptMs),
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 12 },
  } as const;
}

/**
 * Activities that page or loop over many Graph calls (discovery, subscription checks,
 * unsubscribing): they heartbeat after every call, so the heartbeat timeout bounds one call and
 * the attempt may run long for a partner with dozens of accounts.
 */
export function pagedGraphCall(timeouts: CallTimeouts = DEFAULT_CALL_TIMEOUTS) {
  return {
    ...graphCall(timeouts),
    startToCloseTimeout: '15m',
    heartbeatTimeout: timeouts.graphMs + MARGIN_MS,
    scheduleToCloseTimeout: '30m',
  } as const;
}

/**
 * A register call: every attempt may count against Meta's 10 per number in 72 hours, so only a
 * few, spread over a few minutes.
 */
export function registrationCall(timeouts: CallTimeouts = DEFAULT_CALL_TIMEOUTS) {
  return {
    startToCloseTimeout: timeouts.graphMs + MARGIN_MS,
    retry: { initialInterval: '5s', backoffCoefficient: 4, maximumInterval: '2m', maximumAttempts: 3 },
  } as const;
}

/** One call to the business's HTTP responder per attempt. */
export function responderCall(timeouts: CallTimeouts = DEFAULT_CALL_TIMEOUTS) {
  return {
    startToCloseTimeout: timeouts.responderMs + MARGIN_MS,
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 5 },
  } as const;
}

/**
 * Fetching a turn's inbound media from Meta before the responder is called: an attempt may stream a
 * 100 MB document (it heartbeats as bytes arrive); a few quick retries, then the turn is answered
 * without it.
 */
export function mediaFetch(timeouts: CallTimeouts = DEFAULT_CALL_TIMEOUTS) {
  return {
    startToCloseTimeout: '10m',
    heartbeatTimeout: timeouts.graphMs + MARGIN_MS,
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s', maximumAttempts: 5 },
  } as const;
}

/** Mark-read (and typing): a few quick local attempts; a message that stays unread is no failure. */
export function markRead(timeouts: CallTimeouts = DEFAULT_CALL_TIMEOUTS) {
  return {
    startToCloseTimeout: graphCall(timeouts).startToCloseTimeout,
    retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '5s', maximumAttempts: 3 },
  } as const;
}

/** A reply's first attempts, as local activities inside the workflow task. */
export function quickSend(timeouts: CallTimeouts = DEFAULT_CALL_TIMEOUTS) {
  return {
    startToCloseTimeout: graphCall(timeouts).startToCloseTimeout,
    retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '2s', maximumAttempts: 3 },
  } as const;
}

/**
 * A reply whose quick attempts failed: a regular activity retrying through Meta outages and rate
 * limits for hours; the reply's lateness limit (or the 24-hour window) ends it sooner.
 */
export function durableSend(timeouts: CallTimeouts = DEFAULT_CALL_TIMEOUTS) {
  return {
    startToCloseTimeout: graphCall(timeouts).startToCloseTimeout,
    scheduleToCloseTimeout: '6h',
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '60s' },
  } as const;
}

/** The connect's code exchange: the authorization code lives minutes (seconds for popup codes), so retry briefly. */
export function codeExchange(timeouts: CallTimeouts = DEFAULT_CALL_TIMEOUTS) {
  const attemptMs = graphCall(timeouts).startToCloseTimeout;
  return {
    startToCloseTimeout: attemptMs,
    scheduleToCloseTimeout: Math.max(90_000, 3 * attemptMs),
    retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '5s', maximumAttempts: 6 },
  } as const;
}

/**
 * Token checks may take their time: a failed check is only recorded after ten minutes. Laid over
 * `graphCall` or `pagedGraphCall`.
 */
export const tokenCheckPatience = {
  scheduleToCloseTimeout: '10m',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '60s', maximumAttempts: 8 },
} as const;

/** A coexistence sync request: one Graph call per attempt, backing off up to five minutes, until the sync's deadline. */
export function untilDeadline(remainingMs: number) {
  return {
    startToCloseTimeout: DEFAULT_CALL_TIMEOUTS.graphMs + MARGIN_MS,
    scheduleToCloseTimeout: remainingMs,
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '5m' },
  } as const;
}

/** Creating or updating one token-care Schedule at the end of a connect. */
export const scheduleCall = {
  startToCloseTimeout: '10s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s', maximumAttempts: 5 },
} as const;

/** Reconcile's one activity: pages through schedules and integrations, heartbeating as it goes. */
export const reconcileRun = {
  startToCloseTimeout: '30m',
  heartbeatTimeout: '2m',
  retry: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '2m', maximumAttempts: 3 },
} as const;

/** SelfCheck's one write: a worker that polls and reaches PostgreSQL answers within seconds. */
export const selfCheckWrite = {
  startToCloseTimeout: '10s',
  retry: { initialInterval: '200ms', maximumAttempts: 5 },
} as const;

/** Calls to Temporal itself (schedules, cancelling work) that list and loop, heartbeating. */
export const temporalCall = {
  startToCloseTimeout: '10m',
  heartbeatTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 10 },
} as const;

/**
 * One batch of the retention sweep: a short statement on an index, retried through a database
 * restart; a sweep that still fails ends, and the next one the Schedule starts picks up the rest.
 */
export const retentionBatch = {
  startToCloseTimeout: '2m',
  retry: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 10 },
} as const;

/**
 * An erasure's deletes: each attempt deletes batches for about a minute, heartbeating after each;
 * retried without end (an erasure that was accepted must finish), backing off to a minute.
 */
export const erasureStep = {
  startToCloseTimeout: '5m',
  heartbeatTimeout: '1m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m' },
} as const;

/**
 * Short PostgreSQL steps as local activities: they ride out a restart or a failover (minutes)
 * inside the workflow task. Retrying longer there would force extra workflow tasks and grow the
 * history through an outage, so past that a regular activity with durable retries takes over.
 */
const databaseStep = {
  startToCloseTimeout: '15s',
  scheduleToCloseTimeout: '3m',
  retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '5s' },
} as const;

/** The regular activity that waits out a longer database outage (a day at most). */
const databaseOutage = {
  startToCloseTimeout: '15s',
  scheduleToCloseTimeout: '24h',
  retry: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '1m' },
} as const;

/** A failure worth another try as a regular activity: not a cancellation, not a refusal. */
function outageLike(error: unknown): boolean {
  if (isCancellation(error) || !(error instanceof ActivityFailure)) return false;
  return !(error.cause instanceof ApplicationFailure && error.cause.nonRetryable);
}

const localDatabase = proxyLocalActivities<Activities>(databaseStep);
const regularDatabase = proxyActivities<Activities>(databaseOutage);

/** The activities as database steps: local first, a regular activity through a longer outage. */
export const db: ActivityInterfaceFor<Activities> = new Proxy({} as ActivityInterfaceFor<Activities>, {
  get(_target, name: string) {
    return async (...args: unknown[]) => {
      const local = localDatabase[name as keyof Activities] as (...a: unknown[]) => Promise<unknown>;
      try {
        return await local(...args);
      } catch (error) {
        // Executions recorded before this fallback existed failed here; they must replay as they ran.
        if (!outageLike(error) || !patched('database-outage-fallback')) throw error;
        log.warn('database step still failing; continuing as a regular activity', {
          activity: name,
          error: String(error),
        });
        const regular = regularDatabase[name as keyof Activities] as (...a: unknown[]) => Promise<unknown>;
        return regular(...args);
      }
    };
  },
});
