// A connected integration's WhatsApp Business accounts: listed for status and for the webhook
// subscriptions kept at Meta, and what the last subscription check found.
import type { Db } from '../db.js';
import type { BusinessAccountRow } from './tables.js';

/** Every account the integration ever had (active or not): the ones a disconnect unsubscribes. */
export async function wabaIdsOf(db: Db, integrationId: string): Promise<string[]> {
  const rows = await db('whatsapp_business_accounts').where({ integration_id: integrationId }).select('waba_id');
  return rows.map((row) => row.waba_id);
}

export async function activeAccountsOf(db: Db, integrationId: string): Promise<BusinessAccountRow[]> {
  return db('whatsapp_business_accounts')
    .where({ integration_id: integrationId, is_active: true })
    .orderBy('created_at');
}

/** Meta still has our app subscribed: checked now (and known subscribed, if it was unknown). */
export async function recordSubscriptionChecked(
  db: Db,
  account: Pick<BusinessAccountRow, 'id' | 'subscription_state'>,
  now: Date,
): Promise<void> {
  await db('whatsapp_business_accounts')
    .where({ id: account.id })
    .update({
      subscription_checked_at: now,
      ...(account.subscription_state === 'unknown' ? { subscription_state: 'subscribed' } : {}),
    });
}

/** The subscription was missing at Meta and has just been made again. */
export async function recordSubscriptionRestored(db: Db, accountId: string, now: Date): Promise<void> {
  await db('whatsapp_business_accounts').where({ id: accountId }).update({
    subscription_state: 'restored',
    subscribed_at: now,
    subscription_checked_at: now,
    updated_at: now,
  });
}
