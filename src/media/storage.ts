// Where media bytes live: a local folder by default (MEDIA_DIR), S3-compatible object storage when
// MEDIA_S3_BUCKET is set. Downloads are first written to a staged file (size-capped and hashed on the
// way), and only a file that passed every check is put under its key.
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { DeleteObjectCommand, GetObjectCommand, NoSuchKey, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { Config } from '../config.js';

export interface StoredObject {
  body: Readable;
  size: number;
}

export interface MediaStorage {
  readonly kind: 'local' | 's3';
  /** A path for a new staged file, on the storage's own disk where that matters. */
  stagePath(): Promise<string>;
  /** Moves a staged file under `key` (the staged file is gone afterwards). */
  put(key: string, stagedPath: string, meta: { contentType: string; size: number }): Promise<void>;
  /** The object, or undefined when nothing is stored under `key`. */
  get(key: string): Promise<StoredObject | undefined>;
  /** Removes the object; removing one that is not there is no error. */
  delete(key: string): Promise<void>;
}

const KEY = /^[a-z0-9][a-z0-9/_-]{0,200}$/;

function checkedKey(key: string): string {
  if (!KEY.test(key) || key.includes('//')) throw new Error('invalid media storage key');
  return key;
}

export function newStorageKey(mediaId: number): string {
  return `media/${mediaId}-${randomBytes(12).toString('hex')}`;
}

class LocalMediaStorage implements MediaStorage {
  readonly kind = 'local';
  constructor(private readonly dir: string) {}

  async stagePath(): Promise<string> {
    const incoming = join(this.dir, '.incoming');
    await mkdir(incoming, { recursive: true });
    return join(incoming, randomBytes(12).toString('hex'));
  }

  async put(key: string, stagedPath: string): Promise<void> {
    const target = join(this.dir, checkedKey(key));
    await mkdir(dirname(target), { recursive: true });
    try {
      await rename(stagedPath, target);
    } catch (error) {
      // A staged file from another disk (EXDEV): copy it over instead.
      if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
      await copyFile(stagedPath, target);
      await rm(stagedPath, { force: true });
    }
  }

  async get(key: string): Promise<StoredObject | undefined> {
    const path = join(this.dir, checkedKey(key));
    const info = await stat(path).catch(() => undefined);
    if (!info?.isFile()) return undefined;
    return { body: createReadStream(path), size: info.size };
  }

  async delete(key: string): Promise<void> {
    await rm(join(this.dir, checkedKey(key)), { force: true });
  }
}

class S3MediaStorage implements MediaStorage {
  readonly kind = 's3';
  private readonly client: S3Client;

  constructor(
    private readonly bucket: string,
    options: { endpoint?: string | undefined; region: string; forcePathStyle: boolean },
  ) {
    // Credentials come from the AWS SDK's standard chain (AWS_ACCESS_KEY_ID, profiles, roles).
    this.client = new S3Client({
      region: options.region,
      forcePathStyle: options.forcePathStyle,
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    });
  }

  async stagePath(): Promise<string> {
    return join(tmpdir(), `waconnect-media-${randomBytes(12).toString('hex')}`);
  }

  async put(key: string, stagedPath: string, meta: { contentType: string; size: number }): Promise<void> {
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: checkedKey(key),
          Body: createReadStream(stagedPath),
          ContentLength: meta.size,
          ContentType: meta.contentType,
        }),
      );
    } finally {
      await rm(stagedPath, { force: true });
    }
  }

  async get(key: string): Promise<StoredObject | undefined> {
    try {
      const answer = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: checkedKey(key) }));
      return { body: answer.Body as Readable, size: answer.ContentLength ?? 0 };
    } catch (error) {
      if (error instanceof NoSuchKey || (error as { name?: string }).name === 'NotFound') return undefined;
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: checkedKey(key) }));
  }
}

export function mediaStorageFromConfig(media: Config['media']): MediaStorage {
  return media.s3
    ? new S3MediaStorage(media.s3.bucket, {
        endpoint: media.s3.endpoint,
        region: media.s3.region,
        forcePathStyle: media.s3.forcePathStyle,
      })
    : new LocalMediaStorage(media.dir);
}
