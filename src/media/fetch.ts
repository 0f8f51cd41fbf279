// Fetches one inbound media file from Meta: GET /{media-id} for the short-lived URL, then a GET of
// that URL with the token, streamed through a size cap and a SHA-256 into a staged file. Only a file
// whose type, size and hash all match what Meta declared is put into storage. An expired URL (404 or
// 401 on the download) is asked for again; Meta's 5xx and network errors are left to the caller's
// retries.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { GraphClient } from '../meta/graph-client.js';
import { GraphError } from '../meta/graph-errors.js';
import { baseMimeType, maxBytes, mimeAllowed, type MediaKind } from './kinds.js';
import type { MediaStorage } from './storage.js';

/** Why a media file was not stored, when retrying cannot change it. */
export type MediaRefusal = 'mime_mismatch' | 'size_exceeded' | 'sha256_mismatch' | 'meta_refused' | 'missing_media_id';

export class MediaRefused extends Error {
  override name = 'MediaRefused';
  constructor(
    readonly reason: MediaRefusal,
    message: string,
  ) {
    super(message);
  }
}

/** The download URL kept expiring: worth another try later (a retry asks Meta afresh). */
class MediaUrlExpired extends Error {
  override name = 'MediaUrlExpired';
}

export interface DeclaredMedia {
  kind: MediaKind;
  metaMediaId: string;
  /** What the webhook declared (mime_type, sha256, animated for stickers). */
  mimeType: string | undefined;
  sha256: string | undefined;
  animated: boolean;
}

export interface FetchedMedia {
  mimeType: string;
  size: number;
  /** Hex SHA-256 of the stored bytes. */
  sha256: string;
}

export interface MediaFetchDeps {
  graph: GraphClient;
  storage: MediaStorage;
  /** Whether Meta's URLs may be plain http (the local sandbox). */
  allowHttp: boolean;
  downloadTimeoutMs: number;
}

/** How often one fetch asks Meta for a fresh URL after the last one had expired. */
const URL_ATTEMPTS = 3;

export async function fetchMedia(
  deps: MediaFetchDeps,
  request: { token: string; phoneNumberId: string; storageKey: string; declared: DeclaredMedia },
): Promise<FetchedMedia> {
  const { declared } = request;
  if (!declared.metaMediaId) throw new MediaRefused('missing_media_id', 'the message carries no media id');
  if (declared.mimeType !== undefined && !mimeAllowed(declared.kind, declared.mimeType))
    throw new MediaRefused('mime_mismatch', `${declared.kind} declared as ${baseMimeType(declared.mimeType)}`);
  const limit = maxBytes(declared.kind, declared.animated);

  for (let attempt = 1; attempt <= URL_ATTEMPTS; attempt++) {
    const info = await deps.graph
      .mediaInfo(request.token, declared.metaMediaId, request.phoneNumberId)
      .catch((error) => {
        if (error instanceof GraphError && error.kind === 'invalid')
          throw new MediaRefused('meta_refused', `Meta refused the media: ${error.summary}`);
        throw error;
      });
    const mimeType = baseMimeType(info.mime_type);
    if (!mimeAllowed(declared.kind, mimeType))
      throw new MediaRefused('mime_mismatch', `${declared.kind} answered as ${mimeType}`);
    if (declared.mimeType !== undefined && baseMimeType(declared.mimeType) !== mimeType)
      throw new MediaRefused('mime_mismatch', `declared ${baseMimeType(declared.mimeType)}, answered ${mimeType}`);
    if (info.file_size !== undefined && info.file_size > limit)
      throw new MediaRefused('size_exceeded', `${info.file_size} bytes, over the ${limit} of a ${declared.kind}`);
    if (!deps.allowHttp && !info.url.startsWith('https://'))
      throw new MediaRefused('meta_refused', 'the download URL is not https');

    let response: Response;
    try {
      response = await deps.graph.downloadMedia(request.token, info.url, deps.downloadTimeoutMs);
    } catch (error) {
      // Meta's URL lives about five minutes: an expired one answers 404 or 401.
      if (error instanceof GraphError && (error.status === 404 || error.status === 401)) continue;
      throw error;
    }
    const staged = await deps.storage.stagePath();
    try {
      const { size, sha256 } = await stage(response, staged, limit);
      const expected = info.sha256 ?? declared.sha256;
      if (expected !== undefined && !sameDigest(sha256, expected))
        throw new MediaRefused('sha256_mismatch', 'the downloaded bytes do not match the SHA-256 Meta declared');
      await deps.storage.put(request.storageKey, staged, { contentType: info.mime_type, size });
      return { mimeType: info.mime_type, size, sha256 };
    } finally {
      await rm(staged, { force: true });
    }
  }
  throw new MediaUrlExpired(`the download URL expired ${URL_ATTEMPTS} times in a row`);
}

/** Streams the body into `path`, refusing it the moment it passes `limit` bytes. */
async function stage(response: Response, path: string, limit: number): Promise<{ size: number; sha256: string }> {
  const announced = Number(response.headers.get('content-length') ?? NaN);
  if (Number.isFinite(announced) && announced > limit) {
    await response.body?.cancel().catch(() => undefined);
    throw new MediaRefused('size_exceeded', `${announced} bytes announced, over the limit of ${limit}`);
  }
  if (!response.body) return { size: 0, sha256: createHash('sha256').digest('hex') };
  const hash = createHash('sha256');
  let size = 0;
  const cap = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      size += chunk.length;
      if (size > limit) {
        done(new MediaRefused('size_exceeded', `more than ${limit} bytes arrived`));
        return;
      }
      hash.update(chunk);
      done(null, chunk);
    },
  });
  await pipeline(Readable.fromWeb(response.body as WebReadableStream<Uint8Array>), cap, createWriteStream(path));
  return { size, sha256: hash.digest('hex') };
}

/** Meta's SHA-256 as hex or base64 (webhooks have shown both), compared with our hex digest. */
function sameDigest(hex: string, declared: string): boolean {
  const given = /^[0-9a-f]{64}$/i.test(declared)
    ? declared.toLowerCase()
    : Buffer.from(declared, 'base64').toString('hex');
  return given === hex;
}
