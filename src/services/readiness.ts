// Whether the Temporal namespace can take our workflow starts: reachable, and holding every search
// attribute the code sets. /readyz asks afresh; the routes that lead a person to Meta's dialog ask
// through a short cache, so a missing attribute stops them before the dialog, not after it.
import type { Client } from '@temporalio/client';
import { checkSearchAttributes } from '../temporal/search-attributes.js';

export type TemporalReadiness =
  { state: 'ok' } | { state: 'unreachable' } | { state: 'missing_search_attributes'; missing: string[] };

const CHECK_TIMEOUT_MS = 2_000;
const CACHE_OK_MS = 10_000;

export async function checkTemporal(temporal: Client): Promise<TemporalReadiness> {
  try {
    const check = await temporal.connection.withDeadline(Date.now() + CHECK_TIMEOUT_MS, () =>
      checkSearchAttributes(temporal),
    );
    const missing = [...check.missing, ...check.wrongType];
    return missing.length ? { state: 'missing_search_attributes', missing } : { state: 'ok' };
  } catch {
    return { state: 'unreachable' };
  }
}

/** checkTemporal, remembered for a few seconds while it answers ok. */
export function cachedTemporalCheck(temporal: Client): () => Promise<TemporalReadiness> {
  let okUntil = 0;
  return async () => {
    if (Date.now() < okUntil) return { state: 'ok' };
    const result = await checkTemporal(temporal);
    if (result.state === 'ok') okUntil = Date.now() + CACHE_OK_MS;
    return result;
  };
}
