// How activities report failures to workflows: a GraphError becomes a retryable failure when it is
// transient, and a non-retryable one with a stable type otherwise. Messages are already scrubbed.
import { ApplicationFailure } from '@temporalio/common';
import { GraphError, type GraphErrorKind } from '../meta/graph-errors.js';
import { FailureType } from './failure-types.js';

const typeByKind: Record<GraphErrorKind, string> = {
  transient: FailureType.transient,
  reauth: FailureType.reauth,
  permission: FailureType.permission,
  code_used: FailureType.codeUsed,
  code_expired: FailureType.codeExpired,
  window_closed: FailureType.windowClosed,
  invalid: FailureType.invalid,
};

/** Rate limits wait longer than the retry policy's first steps. */
const RATE_LIMIT_DELAY_MS = 5_000;

export function toActivityFailure(error: unknown): unknown {
  if (!(error instanceof GraphError)) return error;
  const details = [
    {
      operation: error.operation,
      status: error.status ?? null,
      code: error.code ?? null,
      subcode: error.subcode ?? null,
      fbtraceId: error.fbtraceId ?? null,
      details: error.details ?? null,
      outcome: error.outcome,
    },
  ];
  if (error.kind === 'transient') {
    return ApplicationFailure.create({
      message: error.summary,
      type: FailureType.transient,
      details,
      ...(error.isRateLimit ? { nextRetryDelay: RATE_LIMIT_DELAY_MS } : {}),
    });
  }
  return ApplicationFailure.create({
    message: error.summary,
    type: typeByKind[error.kind],
    details,
    nonRetryable: true,
  });
}

/** The number's next send slot is further than an attempt waits: try again when it is near. */
export function pacedFailure(retryInMs: number): ApplicationFailure {
  return ApplicationFailure.create({
    message: `the number's next send slot is ${retryInMs} ms away`,
    type: FailureType.paced,
    nextRetryDelay: retryInMs,
  });
}

/** Runs an activity body, translating Graph errors into Temporal failures. */
export async function graphActivity<T>(body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    throw toActivityFailure(error);
  }
}
