import { randomUUID } from 'node:crypto';

/** A business id of its own for each test, so tests never share rows. */
export function newBusinessId(label = 'biz'): string {
  return `${label}-${randomUUID().slice(0, 8)}`;
}
