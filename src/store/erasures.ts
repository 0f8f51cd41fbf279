// Erasures: the request, its progress and, once done, the audit of it. A customer erasure keeps the
// identifiers it deletes by (phones, BSUIDs, customer row ids) encrypted in its row while it runs,
// because a customer's rows are found by more than one of them (a send to a phone has no customer
// row yet, a status names the recipient); when it is done the row keeps only a keyed hash of whom
// it was for, when, and how many rows of each kind went.
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { decryptText, encryptText, keyedHash, type Keyring } from '../crypto.js';
import type { Db } from '../db.js';
import { insertStarts, type NewStart, type PendingStart } from './outbox.js';
import type { ErasureRow } from './tables.js';

export type ErasureScope = 'customer' | 'business';
export type ErasureSource = 'api' | 'operator' | 'disconnect' | 'account_event' | 'meta_data_deletion';
export type ErasureState = 'pending' | 'running' | 'done';
export type ErasureSubject = { kind: 'phone' | 'bsuid'; value: string } | { kind: 'business' };

/** Whom a customer erasure deletes: every identifier its customer rows showed, kept as they grow. */
export interface CustomerTarget {
  phones: string[];
  bsuids: string[];
  customerIds: number[];
}

/** The purpose the keyed hashes of erasure subjects are made under. */
const SUBJECT_HASH_PURPOSE = 'erasure-subject';
export const targetAad = (erasureId: string) => `erasures.target:${erasureId}`;

/** The keyed hash an erasure's audit keeps of whom it was for. */
export function subjectHash(keyring: Keyring, kind: string, value: string): string {
  return keyedHash(keyring, SUBJECT_HASH_PURPOSE, `${kind}:${value}`);
}

export interface NewErasure {
  businessId: string;
  subject: ErasureSubject;
  source: ErasureSource;
  deletionRequestId?: string | null;
}

/** Writes the erasure and its workflow start in the caller's transaction; answers both. */
/** Writes erasures and their starts in the caller's transaction (the drain starts them if nobody else does). */
export async function insertErasures(
  trx: Knex.Transaction,
  keyring: Keyring,
  start: (erasureId: string) => NewStart,
  erasures: NewErasure[],
): Promise<{ rows: ErasureRow[]; starts: PendingStart[] }> {
  const rows: ErasureRow[] = [];
  const starts: PendingStart[] = [];
  for (const erasure of erasures) {
    const written = await insertErasure(trx, keyring, erasure, start);
    rows.push(written.row);
    starts.push(...written.starts);
  }
  return { rows, starts };
}

async function insertErasure(
  trx: Knex.Transaction,
  keyring: Keyring,
  input: NewErasure,
  start: (erasureId: string) => NewStart,
): Promise<{ row: ErasureRow; starts: PendingStart[] }> {
  const id = randomUUID();
  const { subject } = input;
  const target: CustomerTarget | null =
    subject.kind === 'business'
      ? null
      : {
          phones: subject.kind === 'phone' ? [subject.value] : [],
          bsuids: subject.kind === 'bsuid' ? [subject.value] : [],
          customerIds: [],
        };
  const [row] = await trx('erasures')
    .insert({
      id,
      business_id: input.businessId,
      scope: subject.kind === 'business' ? 'business' : 'customer',
      subject_kind: subject.kind,
      subject_hash: subjectHash(keyring, subject.kind, subject.kind === 'business' ? input.businessId : subject.value),
      target: target ? encryptText(keyring, JSON.stringify(target), targetAad(id)) : null,
      source: input.source,
      deletion_request_id: input.deletionRequestId ?? null,
    })
    .returning('*');
  return { row: row!, starts: await insertStarts(trx, [start(id)]) };
}

export async function readErasure(db: Db, erasureId: string): Promise<ErasureRow | undefined> {
  return db('erasures').where({ id: erasureId }).first();
}

/** The business's own erasure, or undefined (another business's id reads as unknown). */
export async function readBusinessErasure(db: Db, businessId: string, erasureId: string) {
  return db('erasures').where({ id: erasureId, business_id: businessId }).first();
}

export function readTarget(keyring: Keyring, row: Pick<ErasureRow, 'id' | 'target'>): CustomerTarget | null {
  return row.target ? (JSON.parse(decryptText(keyring, row.target, targetAad(row.id))) as CustomerTarget) : null;
}

export async function storeTarget(
  db: Db | Knex.Transaction,
  keyring: Keyring,
  erasureId: string,
  target: CustomerTarget,
): Promise<void> {
  await db('erasures')
    .where({ id: erasureId })
    .whereNot({ state: 'done' })
    .update({ target: encryptText(keyring, JSON.stringify(target), targetAad(erasureId)), updated_at: new Date() });
}

/** Marks the erasure running (once); answers its row, or undefined when it is unknown. */
export async function startErasure(db: Db, erasureId: string): Promise<ErasureRow | undefined> {
  const now = new Date();
  await db('erasures')
    .where({ id: erasureId, state: 'pending' })
    .update({ state: 'running', started_at: now, updated_at: now });
  return readErasure(db, erasureId);
}

/** Adds a batch's deleted rows to the audit, in the batch's own transaction. */
export async function countErased(trx: Knex.Transaction, erasureId: string, kind: string, rows: number): Promise<void> {
  if (rows === 0) return;
  await trx.raw(
    `UPDATE erasures SET counts = jsonb_set(counts, ARRAY[?::text], to_jsonb(COALESCE((counts->>?)::bigint, 0) + ?)),
       updated_at = now()
     WHERE id = ?`,
    [kind, kind, rows, erasureId],
  );
}

/** Done: the target is dropped, the hash and the counts stay. */
export async function finishErasure(db: Db, erasureId: string): Promise<void> {
  const now = new Date();
  await db('erasures')
    .where({ id: erasureId })
    .whereNot({ state: 'done' })
    .update({ state: 'done', target: null, completed_at: now, updated_at: now });
}

/** Records a Meta data-deletion request; answers its id. */
export async function insertDeletionRequest(
  trx: Knex.Transaction,
  input: { confirmationCode: string; userHash: string },
): Promise<string> {
  const [row] = await trx('data_deletion_requests')
    .insert({ confirmation_code: input.confirmationCode, user_hash: input.userHash })
    .returning('id');
  return row!.id;
}

/** The businesses whose integration the Facebook user connected (the app-scoped id debug_token named). */
export async function businessesConnectedBy(db: Db | Knex.Transaction, metaUserId: string): Promise<string[]> {
  const rows = await db('channel_integrations').where({ meta_user_id: metaUserId }).distinct('business_id');
  return rows.map((r) => r.business_id);
}

export interface DeletionRequestStatus {
  requestedAt: Date;
  erasures: number;
  pending: number;
  completedAt: Date | null;
}

export async function readDeletionRequest(db: Db, confirmationCode: string): Promise<DeletionRequestStatus | null> {
  const request = await db('data_deletion_requests').where({ confirmation_code: confirmationCode }).first();
  if (!request) return null;
  const erasures = await db('erasures').where({ deletion_request_id: request.id }).select('state', 'completed_at');
  const pending = erasures.filter((e) => e.state !== 'done').length;
  const last = erasures.reduce<Date>(
    (latest, e) => (e.completed_at && e.completed_at > latest ? e.completed_at : latest),
    request.requested_at,
  );
  return { requestedAt: request.requested_at, erasures: erasures.length, pending, completedAt: pending ? null : last };
}

/** Every integration row the business has, and whether it is still active. */
export async function integrationsOf(db: Db, businessId: string): Promise<Array<{ id: string; is_active: boolean }>> {
  return db('channel_integrations').where({ business_id: businessId }).select('id', 'is_active');
}
