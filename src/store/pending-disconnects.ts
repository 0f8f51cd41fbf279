// Integrations a disconnect did not finish: deactivated, yet still holding their token (the
// disconnect workflow never started, e.g. Temporal was down, or it failed).
import type { Db } from '../db.js';
import { WHATSAPP } from './integrations.js';

export interface PendingDisconnect {
  id: string;
  business_id: string;
}

/** Deactivated at least `graceMs` ago: a disconnect that just ran is still starting its own workflow. */
export async function integrationsAwaitingDisconnect(
  db: Db,
  graceMs: number,
  limit = 500,
): Promise<PendingDisconnect[]> {
  return db('channel_integrations')
    .where({ channel: WHATSAPP, is_active: false })
    .whereNotNull('credentials')
    .where((q) => void q.whereNull('disconnected_at').orWhere('disconnected_at', '<', new Date(Date.now() - graceMs)))
    .orderBy('updated_at', 'asc')
    .limit(limit)
    .select('id', 'business_id');
}
