// Customers: one row per person a business talks to, known by phone number, by Meta's
// business-scoped user id (BSUID), or both. A message that brings both links them; two rows that
// turn out to be one person are merged; a changed BSUID or number moves the row.
import type { Knex } from 'knex';
import type { IdentityChange } from '../meta/webhook-payload.js';

export interface CustomerIdentity {
  businessId: string;
  phone: string | null;
  bsuid: string | null;
  parentBsuid: string | null;
  username: string | null;
  name: string | null;
}

/** The key intake sorts customers by, so concurrent webhooks lock them in one order. */
export function identityKey(identity: CustomerIdentity): string {
  return `${identity.businessId}\u0001${identity.bsuid ?? ''}\u0001${identity.phone ?? ''}`;
}

function details(identity: CustomerIdentity) {
  return {
    ...(identity.parentBsuid ? { parent_bsuid: identity.parentBsuid } : {}),
    ...(identity.username ? { username: identity.username } : {}),
    ...(identity.name ? { profile_name: identity.name } : {}),
  };
}

/** Finds or creates the customer, linking phone and BSUID when the message brings both. */
export async function resolveCustomer(trx: Knex.Transaction, identity: CustomerIdentity): Promise<number> {
  const { businessId, phone, bsuid } = identity;
  const now = new Date();
  if (bsuid && phone) {
    // The common case, one statement: the row already links both.
    const [linked] = await trx('customers')
      .where({ business_id: businessId, bsuid, phone })
      .update({ ...details(identity), updated_at: now })
      .returning('id');
    if (linked) return linked.id;
    const rows = await trx('customers')
      .where({ business_id: businessId })
      .andWhere((q) => void q.where({ bsuid }).orWhere({ phone }))
      .orderBy('id')
      .forUpdate()
      .select('id', 'bsuid', 'phone');
    if (rows.length === 0) {
      const [row] = await trx('customers')
        .insert({ business_id: businessId, bsuid, phone, ...details(identity) })
        .onConflict(trx.raw('(business_id, bsuid) WHERE bsuid IS NOT NULL'))
        .merge({ phone, updated_at: now })
        .returning('id');
      return row!.id;
    }
    const [keep, ...others] = rows;
    for (const other of others) await mergeCustomer(trx, other.id, keep!.id);
    await trx('customers')
      .where({ id: keep!.id })
      .update({ bsuid, phone, ...details(identity), updated_at: now });
    return keep!.id;
  }
  const column = bsuid ? 'bsuid' : 'phone';
  const [row] = await trx('customers')
    .insert({ business_id: businessId, bsuid, phone, ...details(identity) })
    .onConflict(trx.raw(`(business_id, ${column}) WHERE ${column} IS NOT NULL`))
    .merge({ ...details(identity), updated_at: now })
    .returning('id');
  return row!.id;
}

/** Moves everything of `from` onto `into` and removes `from`: Meta showed they are one person. */
async function mergeCustomer(trx: Knex.Transaction, from: number, into: number): Promise<void> {
  const conversations = await trx('conversations')
    .where({ customer_id: from })
    .forUpdate()
    .select('id', 'phone_number_id', 'merged_into');
  for (const conversation of conversations) {
    const live = await trx('conversations')
      .where({ customer_id: into, phone_number_id: conversation.phone_number_id })
      .whereNull('merged_into')
      .first('id');
    // A conversation on the same number already exists: the old one keeps its messages and takes no new ones.
    await trx('conversations')
      .where({ id: conversation.id })
      .update({
        customer_id: into,
        ...(live && !conversation.merged_into ? { merged_into: live.id } : {}),
        updated_at: new Date(),
      });
  }
  await trx('messages').where({ customer_id: from }).update({ customer_id: into });
  const old = await trx('customers').where({ id: from }).first();
  await trx('customers').where({ id: from }).delete();
  if (old) {
    await trx('customers')
      .where({ id: into })
      .update({
        ...(old.parent_bsuid ? { parent_bsuid: trx.raw('COALESCE(parent_bsuid, ?)', [old.parent_bsuid]) } : {}),
        ...(old.username ? { username: trx.raw('COALESCE(username, ?)', [old.username]) } : {}),
        ...(old.profile_name ? { profile_name: trx.raw('COALESCE(profile_name, ?)', [old.profile_name]) } : {}),
      });
  }
}

/** A changed BSUID or phone number (a system message or a user_id_update): the customer row moves with it. */
export async function applyIdentityChange(
  trx: Knex.Transaction,
  businessId: string,
  change: IdentityChange,
): Promise<void> {
  if (!change.previousUserId || (!change.newUserId && !change.newPhone)) return;
  const current = await trx('customers')
    .where({ business_id: businessId, bsuid: change.previousUserId })
    .forUpdate()
    .first('id');
  if (!current) return;
  if (change.newUserId) {
    const taken = await trx('customers')
      .where({ business_id: businessId, bsuid: change.newUserId })
      .forUpdate()
      .first('id');
    // The new id already wrote to us: the two rows are one person, the older row stays.
    if (taken && taken.id !== current.id) await mergeCustomer(trx, taken.id, current.id);
  }
  if (change.newPhone) {
    const taken = await trx('customers')
      .where({ business_id: businessId, phone: change.newPhone })
      .forUpdate()
      .first('id');
    if (taken && taken.id !== current.id) await mergeCustomer(trx, taken.id, current.id);
  }
  await trx('customers')
    .where({ id: current.id })
    .update({
      ...(change.newUserId ? { bsuid: change.newUserId } : {}),
      ...(change.newPhone ? { phone: change.newPhone } : {}),
      ...(change.newParentUserId ? { parent_bsuid: change.newParentUserId } : {}),
      updated_at: new Date(),
    });
}
