// The two fixed waits tests may keep; every other wait polls observable state (expect.poll).

/**
 * For a test that proves something did NOT happen: a non-event leaves nothing to poll for, so the
 * test gives it this long to show up (a second send, a replayed message) and then looks.
 */
export function quietPeriod(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** For behaviour that depends on the clock (a pause that ends at a time): waits until `epochMs` has passed. */
export function untilTime(epochMs: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, epochMs - Date.now())));
}
