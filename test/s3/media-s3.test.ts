// Media storage on a real S3-compatible server (SeaweedFS on loopback): a customer's image is
// fetched from the sandbox, stored in the bucket, served by the API, and deleted. Run with
// `npm run test:s3` (not part of `npm test`); README "Media" says how to get the `weed` binary.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { purgeMedia } from '../../src/media/purge.js';
import { mediaStorageFromConfig } from '../../src/media/storage.js';
import { projectRoot } from '../../src/paths.js';
import { authHeaders } from '../helpers/jwt.js';
import { connectNewNumber } from '../helpers/meta-flow.js';
import { freePort } from '../helpers/ports.js';
import { startStack, type Stack } from '../helpers/stack.js';

const WEED = process.env.WEED_BIN ?? join(projectRoot, '.seaweedfs/bin/weed');
const BUCKET = 'waconnect-media-test';
// SeaweedFS without an identity file accepts any key; the AWS SDK still wants one to sign with.
const CREDENTIALS = { AWS_ACCESS_KEY_ID: 'waconnect-test', AWS_SECRET_ACCESS_KEY: 'waconnect-test-secret' };

describe('media on S3-compatible storage', () => {
  let weed: ChildProcess | undefined;
  let weedLog = '';
  let dataDir: string;
  let endpoint: string;
  let stack: Stack;

  beforeAll(async () => {
    if (!existsSync(WEED)) throw new Error(`no SeaweedFS binary at ${WEED}: see README "Media" (npm run test:s3)`);
    Object.assign(process.env, CREDENTIALS);
    dataDir = await mkdtemp(join(tmpdir(), 'waconnect-seaweedfs-'));
    const ports = await Promise.all(Array.from({ length: 8 }, () => freePort()));
    const [master, masterGrpc, volume, volumeGrpc, filer, filerGrpc, s3, s3Grpc] = ports as [
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    endpoint = `http://127.0.0.1:${s3}`;
    // Loopback only, every port chosen here, no telemetry and no extra gateways.
    weed = spawn(
      WEED,
      [
        'server',
        '-ip=127.0.0.1',
        '-ip.bind=127.0.0.1',
        `-dir=${dataDir}`,
        `-master.port=${master}`,
        `-master.port.grpc=${masterGrpc}`,
        '-master.telemetry=false',
        '-master.volumeSizeLimitMB=64',
        `-volume.port=${volume}`,
        `-volume.port.grpc=${volumeGrpc}`,
        `-filer.port=${filer}`,
        `-filer.port.grpc=${filerGrpc}`,
        '-s3',
        `-s3.port=${s3}`,
        `-s3.port.grpc=${s3Grpc}`,
        '-s3.port.iceberg=0',
        '-s3.port.lance=0',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...CREDENTIALS } },
    );
    weed.stdout!.on('data', (c: Buffer) => (weedLog = (weedLog + c.toString()).slice(-20_000)));
    weed.stderr!.on('data', (c: Buffer) => (weedLog = (weedLog + c.toString()).slice(-20_000)));
    const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true });
    // The S3 gateway answers once the master, volume and filer are up.
    let outcome = 'not tried';
    for (const deadline = Date.now() + 60_000; outcome !== 'created' && Date.now() < deadline;) {
      outcome = await client
        .send(new CreateBucketCommand({ Bucket: BUCKET }))
        .then(() => 'created')
        .catch((error: { name?: string }) =>
          error.name === 'BucketAlreadyOwnedByYou' ? 'created' : String(error.name),
        );
      if (outcome !== 'created') await new Promise((resolve) => setTimeout(resolve, 500));
    }
    if (outcome !== 'created') throw new Error(`SeaweedFS did not create the bucket (${outcome}):\n${weedLog}`);
    client.destroy();
    stack = await startStack({
      api: true,
      sandbox: true,
      env: {
        MEDIA_S3_BUCKET: BUCKET,
        MEDIA_S3_ENDPOINT: endpoint,
        MEDIA_S3_REGION: 'us-east-1',
        MEDIA_S3_FORCE_PATH_STYLE: 'true',
        OUTBOX_DRAIN_INTERVAL_MS: '100',
      },
    });
  }, 120_000);

  afterAll(async () => {
    await stack?.close();
    // SeaweedFS takes a few seconds to stop its servers: wait for it, and never leave it behind.
    if (weed && weed.exitCode === null && weed.signalCode === null) {
      const exited = new Promise((resolve) => weed!.once('exit', resolve));
      weed.kill('SIGTERM');
      const timer = setTimeout(() => weed?.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('stores a customer’s image in the bucket, serves it, and deletes it', async () => {
    const { businessId, phoneNumberId } = await connectNewNumber(stack.api!.url);
    const { messageId: wamid } = stack.sandbox!.state.sendCustomerMessage({
      phoneNumberId,
      from: '447700900123',
      type: 'image',
      file: { size: 300_000 },
    });
    await expect
      .poll(async () => (await stack.db('messages').where({ wamid, direction: 'inbound' }).first())?.status, {
        timeout: 45_000,
      })
      .toBe('replied');
    const message = (await stack.db('messages').where({ wamid, direction: 'inbound' }).first())!;
    const media = (await stack.db('media').where({ message_id: message.id }).first())!;
    expect(media, weedLog).toMatchObject({ state: 'stored', mime_type: 'image/jpeg' });

    const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true });
    const head = await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: media.storage_key! }));
    expect(head.ContentLength).toBe(300_000);
    expect(head.ContentType).toBe('image/jpeg');

    const res = await fetch(`${stack.api!.url}/api/integrations/whatsapp/media/${media.id}`, {
      headers: await authHeaders(businessId),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe('300000');
    expect((await res.arrayBuffer()).byteLength).toBe(300_000);

    expect(await purgeMedia(stack.db, mediaStorageFromConfig(stack.config.media), [Number(message.id)])).toBe(1);
    await expect(client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: media.storage_key! }))).rejects.toThrow();
    expect(
      (
        await fetch(`${stack.api!.url}/api/integrations/whatsapp/media/${media.id}`, {
          headers: await authHeaders(businessId),
        })
      ).status,
    ).toBe(404);
    client.destroy();
  });
});
