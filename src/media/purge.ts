// Removing media for retention and erasure: objects first, then rows, so a failure leaves a row that
// points at nothing (served as gone) rather than bytes that no row knows of.
import type { Db } from '../db.js';
import { deleteMediaForMessages, mediaKeysOfMessages } from '../store/media.js';
import type { MediaStorage } from './storage.js';

export async function purgeMedia(db: Db, storage: MediaStorage, messageIds: number[]): Promise<number> {
  const keys = await mediaKeysOfMessages(db, messageIds);
  for (const key of keys) await storage.delete(key);
  await deleteMediaForMessages(db, messageIds);
  return keys.length;
}
