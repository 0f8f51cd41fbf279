// Inbound media: HandleInboundMessage fetches a turn's media before its responder is called. Each
// message's file is fetched once (a stored row is skipped on retry); a file Meta's checks refuse is
// recorded failed with its reason, and the turn is answered either way.
import { heartbeat, log } from '@temporalio/activity';
import { fetchMedia, MediaRefused, type DeclaredMedia } from '../src/media/fetch.js';
import { mediaStorageFromConfig, newStorageKey } from '../src/media/storage.js';
import { GraphError } from '../src/meta/graph-errors.js';
import { readIntegrationToken } from '../src/store/integrations.js';
import {
  failPendingMedia,
  markMediaFailed,
  markMediaStored,
  openMedia,
  turnMediaMessages,
  type MediaMessage,
} from '../src/store/media.js';
import type { ActivityDeps } from './deps.js';

/** A 100 MB document on a slow link: minutes. */
const DOWNLOAD_TIMEOUT_MS = 9 * 60_000;

const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

function declaredOf(message: MediaMessage): DeclaredMedia {
  return {
    kind: message.kind,
    metaMediaId: text(message.content.id) ?? '',
    mimeType: text(message.content.mime_type),
    sha256: text(message.content.sha256),
    animated: message.content.animated === true,
  };
}

export function createMediaActivities({ db, config, graph }: ActivityDeps) {
  const media = mediaStorageFromConfig(config.media);

  async function fetchOne(message: MediaMessage): Promise<'stored' | 'failed' | 'done'> {
    const declared = declaredOf(message);
    const row = await openMedia(db, message, {
      metaMediaId: declared.metaMediaId,
      mimeType: declared.mimeType ?? null,
      filename: text(message.content.filename) ?? null,
    });
    if (row.state !== 'pending') return 'done';
    const fail = async (reason: string) => {
      await markMediaFailed(db, row.id, reason);
      log.info('media not stored', { mediaId: row.id, messageId: message.messageId, reason });
      return 'failed' as const;
    };
    const token = message.integrationId
      ? await readIntegrationToken(db, config.keyring, message.integrationId)
      : undefined;
    if (!token) return fail('integration_inactive');
    const storageKey = newStorageKey(row.id);
    // Heartbeats through every phase (Meta's answer, the download, the upload to a bucket).
    const beat = setInterval(() => heartbeat(), 2_000);
    try {
      const fetched = await fetchMedia(
        {
          graph,
          storage: media,
          allowHttp: config.meta.sandbox,
          downloadTimeoutMs: DOWNLOAD_TIMEOUT_MS,
        },
        { token, phoneNumberId: message.phoneNumberId, storageKey, declared },
      );
      await markMediaStored(db, row.id, { ...fetched, storageKey });
      return 'stored';
    } catch (error) {
      if (error instanceof MediaRefused) return fail(error.reason);
      if (error instanceof GraphError && error.kind === 'reauth') return fail('needs_reauth');
      if (error instanceof GraphError && error.kind === 'permission') return fail('meta_refused');
      throw error;
    } finally {
      clearInterval(beat);
    }
  }

  return {
    /** Fetches and stores every media file of the turn's messages; transient trouble throws (retried). */
    async fetchTurnMedia(input: { turnId: number }): Promise<{ stored: number; failed: number }> {
      let stored = 0;
      let failed = 0;
      for (const message of await turnMediaMessages(db, input.turnId)) {
        const outcome = await fetchOne(message);
        if (outcome === 'stored') stored++;
        if (outcome === 'failed') failed++;
      }
      return { stored, failed };
    },

    /** After the retries gave up: what is still pending is recorded failed, and the turn goes on. */
    async failTurnMedia(input: { turnId: number; reason: string }): Promise<void> {
      await failPendingMedia(db, input.turnId, input.reason);
    },
  };
}
