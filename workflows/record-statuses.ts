// RecordStatuses: one per webhook POST that carries delivery statuses (id from their content), so
// a redelivered webhook records nothing twice.
import type { StatusEvent } from '../src/meta/webhook-payload.js';
import { db } from './policies.js';

const { recordStatusEvents } = db;

export async function recordStatuses(events: StatusEvent[]): Promise<{ recorded: number; applied: number }> {
  return recordStatusEvents(events);
}
