// Activity option presets shared by the workflows (like samples-typescript's saga presets).

/** Graph API calls: back off for up to a few minutes before calling Meta unavailable. */
export const graphCall = {
  startToCloseTimeout: '20s',
  scheduleToCloseTimeout: '5m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 12 },
} as const;

/** Short PostgreSQL steps, run as local activities: ride out a database restart. */
export const databaseStep = {
  startToCloseTimeout: '15s',
  retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '5s', maximumAttempts: 30 },
} as const;
