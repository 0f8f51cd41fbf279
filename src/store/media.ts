// The media table: one row per inbound media message, pending until HandleInboundMessage fetched it
// from Meta, then stored (with its storage key) or failed (with the reason). Rows keep Meta's media id,
// never its download URL.
import type { Db } from '../db.js';
import { MEDIA_KINDS, type MediaKind } from '../media/kinds.js';
import type { MediaRow } from './tables.js';

/** An inbound media message of a turn, with what the webhook declared about its file. */
export interface MediaMessage {
  messageId: number;
  businessId: string;
  integrationId: string | null;
  phoneNumberId: string;
  kind: MediaKind;
  content: Record<string, unknown>;
}

/** Whether any message of the turn's frozen set carries media. */
export async function turnHasMedia(db: Db, turnId: number): Promise<boolean> {
  const row = await db('messages')
    .whereIn('id', db('turns').where({ id: turnId }).select(db.raw('unnest(message_ids)')))
    .whereIn('type', [...MEDIA_KINDS])
    .first(db.raw('1 as found'));
  return Boolean(row);
}

/** The turn's media messages, oldest first. */
export async function turnMediaMessages(db: Db, turnId: number): Promise<MediaMessage[]> {
  const rows: Array<{
    id: number;
    business_id: string;
    integration_id: string | null;
    phone_number_id: string;
    type: MediaKind;
    content: Record<string, unknown> | null;
  }> = await db('messages')
    .whereIn('id', db('turns').where({ id: turnId }).select(db.raw('unnest(message_ids)')))
    .whereIn('type', [...MEDIA_KINDS])
    .orderBy('sequence')
    .select('id', 'business_id', 'integration_id', 'phone_number_id', 'type', 'content');
  return rows.map((row) => ({
    messageId: row.id,
    businessId: row.business_id,
    integrationId: row.integration_id,
    phoneNumberId: row.phone_number_id,
    kind: row.type,
    content: (row.content?.[row.type] as Record<string, unknown> | undefined) ?? {},
  }));
}

/** The message's media row, written pending on first sight. */
export async function openMedia(
  db: Db,
  message: MediaMessage,
  declared: { metaMediaId: string; mimeType: string | null; filename: string | null },
): Promise<MediaRow> {
  await db('media')
    .insert({
      message_id: message.messageId,
      business_id: message.businessId,
      integration_id: message.integrationId,
      kind: message.kind,
      meta_media_id: declared.metaMediaId,
      mime_type: declared.mimeType,
      filename: declared.filename,
    })
    .onConflict('message_id')
    .ignore();
  const row = await db('media').where({ message_id: message.messageId }).first();
  if (!row) throw new Error('media row vanished between insert and read');
  return row;
}

export async function markMediaStored(
  db: Db,
  id: number,
  stored: { mimeType: string; size: number; sha256: string; storageKey: string },
): Promise<void> {
  await db('media').where({ id }).update({
    state: 'stored',
    mime_type: stored.mimeType,
    size: stored.size,
    sha256: stored.sha256,
    storage_key: stored.storageKey,
    failure_reason: null,
    updated_at: db.fn.now(),
  });
}

export async function markMediaFailed(db: Db, id: number, reason: string): Promise<void> {
  await db('media')
    .where({ id })
    .whereNot({ state: 'stored' })
    .update({ state: 'failed', failure_reason: reason, updated_at: db.fn.now() });
}

/** The turn's media rows still pending, recorded failed (the fetch's retries gave up). */
export async function failPendingMedia(db: Db, turnId: number, reason: string): Promise<void> {
  await db('media')
    .whereIn('message_id', db('turns').where({ id: turnId }).select(db.raw('unnest(message_ids)')))
    .where({ state: 'pending' })
    .update({ state: 'failed', failure_reason: reason, updated_at: db.fn.now() });
}

/** Stored media of the turn's messages with their wamids, for the responder's request. */
export async function storedMediaOfTurn(db: Db, turnId: number): Promise<Array<MediaRow & { wamid: string }>> {
  return db('media')
    .join('messages', 'messages.id', 'media.message_id')
    .whereIn('media.message_id', db('turns').where({ id: turnId }).select(db.raw('unnest(message_ids)')))
    .where('media.state', 'stored')
    .select('media.*', 'messages.wamid');
}

/** One business's media rows of these messages, for its messages list. */
export async function mediaOfMessages(db: Db, businessId: string, messageIds: number[]): Promise<MediaRow[]> {
  if (messageIds.length === 0) return [];
  return db('media').where({ business_id: businessId }).whereIn('message_id', messageIds);
}

/** One business's media row: another business's id reads as absent. */
export async function mediaOfBusiness(db: Db, businessId: string, id: number): Promise<MediaRow | undefined> {
  return db('media').where({ id, business_id: businessId }).first();
}

export async function mediaById(db: Db, id: number): Promise<MediaRow | undefined> {
  return db('media').where({ id }).first();
}

/**
 * Deletes the media rows of these messages and answers their storage keys, for retention and
 * erasure: the caller deletes the objects (MediaStorage.delete) — see purgeMedia in src/media/purge.ts.
 */
export async function deleteMediaForMessages(db: Db, messageIds: number[]): Promise<string[]> {
  if (messageIds.length === 0) return [];
  const rows: Array<{ storage_key: string | null }> = await db('media')
    .whereIn('message_id', messageIds)
    .delete()
    .returning('storage_key');
  return rows.flatMap((row) => (row.storage_key ? [row.storage_key] : []));
}

/** The storage keys of these messages' media, read before the rows go. */
export async function mediaKeysOfMessages(db: Db, messageIds: number[]): Promise<string[]> {
  if (messageIds.length === 0) return [];
  const rows: Array<{ storage_key: string | null }> = await db('media')
    .whereIn('message_id', messageIds)
    .whereNotNull('storage_key')
    .select('storage_key');
  return rows.map((row) => row.storage_key!);
}
