// Inbound media over real HTTP: the sandbox serves each file as Meta does, HandleInboundMessage
// fetches and checks it before the responder is called, and the API serves it back to the business
// and, through a short-lived signed URL, to the AI brain. Real Temporal, PostgreSQL and the sandbox.
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signedMediaUrl } from '../src/media/signed-url.js';
import { brainRequestV2 } from '../src/reply/contract-v2.js';
import { mediaStorageFromConfig } from '../src/media/storage.js';
import { readIntegrationToken } from '../src/store/integrations.js';
import { erasureWorkflowId } from '../src/temporal/names.js';
import { noWorkerMetrics } from '../src/metrics.js';
import type { ActivityDeps } from '../activities/deps.js';
import { createRetentionActivities } from '../activities/retention.js';
import type { CustomerMessageInput } from '@waconnect/meta-sandbox';
import { authHeaders } from './helpers/jwt.js';
import { connectedIntegration } from './helpers/connected.js';
import { startStack, type Stack } from './helpers/stack.js';

const BRAIN_SECRET = 'brain-secret-for-media-tests-0123456';

interface BrainRequest {
  version?: number;
  messages: Array<{
    messageId: string;
    type: string;
    media?: { id: string; mimeType: string; size: number; url: string };
  }>;
}

interface MediaRowSeen {
  id: number;
  message_id: number;
  state: string;
  failure_reason: string | null;
  mime_type: string | null;
  size: string | number | null;
  sha256: string | null;
  storage_key: string | null;
}

describe('inbound media', () => {
  let brain: Server;
  let stack: Stack;
  let mediaDir: string;
  let number: { businessId: string; phoneNumberId: string };
  const requests: BrainRequest[] = [];
  let customer = 0;

  beforeAll(async () => {
    mediaDir = await mkdtemp(join(tmpdir(), 'waconnect-media-test-'));
    brain = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const request = JSON.parse(Buffer.concat(chunks).toString()) as BrainRequest;
        requests.push(request);
        const answer =
          request.version === 2 ? { messages: [{ text: 'got it' }] } : { reply: { type: 'text', text: 'got it' } };
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
      });
    });
    await new Promise<void>((resolve) => brain.listen(0, '127.0.0.1', resolve));
    stack = await startStack({
      api: true,
      sandbox: true,
      env: {
        MEDIA_DIR: mediaDir,
        REPLY_WEBHOOK_URL: `http://127.0.0.1:${(brain.address() as AddressInfo).port}/reply`,
        REPLY_WEBHOOK_SECRET: BRAIN_SECRET,
        OUTBOX_DRAIN_INTERVAL_MS: '100',
      },
    });
    number = await connectedIntegration(stack);
  });
  afterAll(async () => {
    await stack?.close();
    brain?.closeAllConnections();
    await new Promise((resolve) => brain?.close(resolve));
    if (mediaDir) await rm(mediaDir, { recursive: true, force: true });
  });

  const newMediaId = () => String(2_000_000_000_000_000n + BigInt(Math.floor(Math.random() * 1e12)));

  /** A customer's media message, answered (the turn closes) and its media row settled. */
  async function receive(input: Omit<CustomerMessageInput, 'phoneNumberId' | 'from'>) {
    const from = `4477${String(Date.now() % 1e6).padStart(6, '0')}${++customer}`;
    const { messageId: wamid } = stack.sandbox!.state.sendCustomerMessage({
      phoneNumberId: number.phoneNumberId,
      from,
      ...input,
    });
    await expect
      .poll(async () => (await stack.db('messages').where({ wamid, direction: 'inbound' }).first())?.status, {
        timeout: 45_000,
        interval: 100,
      })
      .toBe('replied');
    const message = (await stack.db('messages').where({ wamid, direction: 'inbound' }).first())!;
    const media = (await stack.db('media').where({ message_id: message.id }).first()) as MediaRowSeen;
    return { wamid, messageId: Number(message.id), media };
  }

  const getMedia = async (id: number, businessId = number.businessId) =>
    fetch(`${stack.api!.url}/api/integrations/whatsapp/media/${id}`, { headers: await authHeaders(businessId) });

  const filler = (size: number) => {
    const bytes = Buffer.alloc(size);
    for (let i = 0; i < size; i++) bytes[i] = (i * 31 + 7) & 0xff;
    return bytes;
  };

  it.each([
    { type: 'image', mime: 'image/jpeg', size: 40_000 },
    { type: 'audio', mime: 'audio/ogg; codecs=opus', size: 30_000 },
    { type: 'video', mime: 'video/mp4', size: 60_000 },
    { type: 'document', mime: 'application/pdf', size: 50_000 },
    { type: 'sticker', mime: 'image/webp', size: 90_000 },
  ])('stores a customer’s $type and serves it back with its type and size', async ({ type, mime, size }) => {
    const { media } = await receive({
      type,
      [type]: { mime_type: mime, ...(type === 'document' ? { filename: '../Q3 "report"\r\n€.pdf' } : {}) },
      file: { size },
    });
    expect(media).toMatchObject({ state: 'stored', failure_reason: null, mime_type: mime });
    expect(Number(media.size)).toBe(size);
    expect(media.sha256).toBe(createHash('sha256').update(filler(size)).digest('hex'));

    const res = await getMedia(media.id);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(mime);
    expect(res.headers.get('content-length')).toBe(String(size));
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    if (type === 'document')
      expect(res.headers.get('content-disposition')).toBe(
        `attachment; filename="..Q3 report_.pdf"; filename*=UTF-8''..Q3%20report%E2%82%AC.pdf`,
      );
    else expect(res.headers.get('content-disposition')).toBe('inline');
    expect(Buffer.from(await res.arrayBuffer()).equals(filler(size))).toBe(true);
  });

  it('gives the AI brain a signed URL that works, expires, and is refused when tampered with', async () => {
    const { wamid, media } = await receive({ type: 'image', image: { caption: 'my order' }, file: { size: 1234 } });
    const list = (await (
      await fetch(`${stack.api!.url}/api/integrations/whatsapp/messages?limit=10`, {
        headers: await authHeaders(number.businessId),
      })
    ).json()) as { messages: Array<{ messageId: string; media: unknown }> };
    expect(list.messages.find((m) => m.messageId === wamid)?.media).toEqual({
      id: media.id,
      state: 'stored',
      mimeType: 'image/jpeg',
      size: 1234,
      filename: null,
      failureReason: null,
    });
    const request = requests.find((r) => r.messages.some((m) => m.messageId === wamid));
    const entry = request!.messages.find((m) => m.messageId === wamid)!;
    expect(entry.media).toEqual({ id: String(media.id), mimeType: 'image/jpeg', size: 1234, url: expect.any(String) });
    const url = new URL(entry.media!.url);
    expect(url.origin + url.pathname).toBe(`${stack.config.publicUrl}/api/media/${media.id}`);

    const served = await fetch(url);
    expect(served.status).toBe(200);
    expect(served.headers.get('content-type')).toBe('image/jpeg');
    expect(Buffer.from(await served.arrayBuffer()).equals(filler(1234))).toBe(true);

    const tampered = new URL(url);
    const sig = tampered.searchParams.get('sig')!;
    tampered.searchParams.set('sig', `${sig[0] === 'A' ? 'B' : 'A'}${sig.slice(1)}`);
    const refused = await fetch(tampered);
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('invalid_signature');
    const longer = new URL(url);
    longer.searchParams.set('expires', String(Number(url.searchParams.get('expires')) + 3600));
    expect((await fetch(longer)).status).toBe(403);
    const otherId = new URL(url.href.replace(`/api/media/${media.id}?`, `/api/media/${media.id + 1}?`));
    expect((await fetch(otherId)).status).toBe(403);
    expect((await fetch(`${stack.config.publicUrl}/api/media/${media.id}`)).status).toBe(403);

    const shortLived = signedMediaUrl(stack.config, media.id, 1_000);
    expect((await fetch(shortLived)).status).toBe(200);
    await expect
      .poll(async () => ((await (await fetch(shortLived)).json()) as { error?: { code: string } }).error?.code, {
        timeout: 10_000,
        interval: 250,
      })
      .toBe('url_expired');
  });

  it('hands the media to a version 2 brain the same way', async () => {
    const settings = await fetch(`${stack.api!.url}/api/integrations/whatsapp/settings`, {
      method: 'PUT',
      headers: { ...(await authHeaders(number.businessId)), 'content-type': 'application/json' },
      body: JSON.stringify({ brainVersion: 2 }),
    });
    expect(settings.status).toBe(200);
    try {
      const { wamid, media } = await receive({
        type: 'document',
        document: { filename: 'menu.pdf' },
        file: { size: 777 },
      });
      const request = requests.find((r) => r.version === 2 && r.messages.some((m) => m.messageId === wamid))!;
      expect(brainRequestV2.safeParse(request).success).toBe(true);
      const entry = request.messages.find((m) => m.messageId === wamid)!;
      expect(entry.media).toEqual({
        id: String(media.id),
        mimeType: 'application/pdf',
        size: 777,
        url: expect.any(String),
      });
      expect((await fetch(entry.media!.url)).status).toBe(200);
    } finally {
      await fetch(`${stack.api!.url}/api/integrations/whatsapp/settings`, {
        method: 'PUT',
        headers: { ...(await authHeaders(number.businessId)), 'content-type': 'application/json' },
        body: JSON.stringify({ brainVersion: 1 }),
      });
    }
  });

  it('refuses a file whose type does not fit its message, and still answers the customer', async () => {
    const declared = await receive({ type: 'image', image: { mime_type: 'application/pdf' } });
    expect(declared.media).toMatchObject({ state: 'failed', failure_reason: 'mime_mismatch', storage_key: null });
    const answered = await receive({
      type: 'image',
      image: { mime_type: 'image/png' },
      file: { mimeType: 'text/html' },
    });
    expect(answered.media).toMatchObject({ state: 'failed', failure_reason: 'mime_mismatch', storage_key: null });
    const res = await getMedia(answered.media.id);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('media_unavailable');
  });

  it('refuses a file over Meta’s limit without storing it, even when its declared size lies', async () => {
    const sticker = await receive({ type: 'sticker', file: { size: 100 * 1024 + 1 } });
    expect(sticker.media).toMatchObject({ state: 'failed', failure_reason: 'size_exceeded', storage_key: null });
    const animated = await receive({ type: 'sticker', sticker: { animated: true }, file: { size: 100 * 1024 + 1 } });
    expect(animated.media).toMatchObject({ state: 'stored' });
    const lying = await receive({ type: 'image', file: { size: 5 * 1024 * 1024 + 10, fileSize: 1000 } });
    expect(lying.media).toMatchObject({ state: 'failed', failure_reason: 'size_exceeded', storage_key: null });
    const stored = await readdir(join(mediaDir, 'media')).catch(() => []);
    expect(
      stored.filter((name) => name.startsWith(`${lying.media.id}-`) || name.startsWith(`${sticker.media.id}-`)),
    ).toEqual([]);
    expect(await readdir(join(mediaDir, '.incoming')).catch(() => [])).toEqual([]);
  });

  it('refuses a file whose bytes do not match the SHA-256 Meta declared', async () => {
    const { media } = await receive({ type: 'video', file: { sha256: 'ab'.repeat(32) } });
    expect(media).toMatchObject({ state: 'failed', failure_reason: 'sha256_mismatch', storage_key: null });
  });

  it('asks Meta for a new URL when the download URL expired', async () => {
    const id = newMediaId();
    stack.sandbox!.state.addFault({ operation: 'media.download', status: 404, objectId: id });
    const { media } = await receive({ type: 'document', document: { id, filename: 'invoice.pdf' } });
    expect(media).toMatchObject({ state: 'stored' });
    expect(stack.sandbox!.state.calls({ operation: 'media.get', objectId: id })).toHaveLength(2);
    expect(stack.sandbox!.state.calls({ operation: 'media.download', objectId: id }).map((c) => c.status)).toEqual([
      404, 200,
    ]);
  });

  it('retries through Meta’s 5xx answers', async () => {
    const id = newMediaId();
    stack.sandbox!.state.addFault({ operation: 'media.get', status: 500, times: 2, objectId: id });
    stack.sandbox!.state.addFault({ operation: 'media.download', status: 503, objectId: id });
    const { media } = await receive({ type: 'audio', audio: { id } });
    expect(media).toMatchObject({ state: 'stored' });
    expect(stack.sandbox!.state.calls({ operation: 'media.get', objectId: id }).map((c) => c.status)).toEqual([
      500, 500, 200, 200,
    ]);
  });

  it('answers the customer when Meta stays down, recording the file as not stored', async () => {
    const id = newMediaId();
    stack.sandbox!.state.addFault({ operation: 'media.get', status: 503, times: 20, objectId: id });
    const { media } = await receive({ type: 'image', image: { id } });
    expect(media).toMatchObject({ state: 'failed', failure_reason: 'meta_unavailable', storage_key: null });
    expect(stack.sandbox!.state.calls({ operation: 'media.get', objectId: id })).toHaveLength(5);
  });

  const deps = () =>
    ({ db: stack.db, config: stack.config, log: stack.log, metrics: noWorkerMetrics }) as unknown as ActivityDeps;

  it('removes a stored file, then its row, when the retention sweep finds it past its setting', async () => {
    const { messageId, media } = await receive({ type: 'image' });
    expect(media.state).toBe('stored');
    const storage = mediaStorageFromConfig(stack.config.media);
    expect(await storage.get(media.storage_key!)).toBeTruthy();
    // Two days old, against a setting of one: the retention sweep's media step, as the worker runs it
    // (other files' sweeps keep media for the default 30 days, so they never see this row).
    await stack
      .db('media')
      .where({ id: media.id })
      .update({ created_at: stack.db.raw(`now() - interval '2 days'`) } as never);
    const retention = { ...stack.config.retention, days: { ...stack.config.retention.days, media: 1 } };
    const activities = createRetentionActivities({ ...deps(), config: { ...stack.config, retention } });
    expect(await activities.retentionBatch({ step: 'media', deletedSoFar: 0, batchesSoFar: 0 })).toMatchObject({
      deleted: 1,
    });
    expect(await storage.get(media.storage_key!)).toBeUndefined();
    expect(await stack.db('media').where({ id: media.id }).first()).toBeUndefined();
    expect((await getMedia(media.id)).status).toBe(404);
    expect(await stack.db('messages').where({ id: messageId }).first()).toBeTruthy();
  });

  it('removes the stored files of a customer who is erased', async () => {
    const from = `4478${String(Date.now() % 1e6).padStart(6, '0')}`;
    const { messageId: wamid } = stack.sandbox!.state.sendCustomerMessage({
      phoneNumberId: number.phoneNumberId,
      from,
      type: 'image',
    });
    await expect
      .poll(async () => (await stack.db('messages').where({ wamid }).first())?.status, { timeout: 45_000 })
      .toBe('replied');
    const message = (await stack.db('messages').where({ wamid }).first())!;
    const media = (await stack.db('media').where({ message_id: message.id }).first()) as MediaRowSeen;
    expect(media.state).toBe('stored');
    const storage = mediaStorageFromConfig(stack.config.media);
    const res = await fetch(`${stack.api!.url}/api/integrations/whatsapp/erasures`, {
      method: 'POST',
      headers: { ...(await authHeaders(number.businessId)), 'content-type': 'application/json' },
      body: JSON.stringify({ phone: from }),
    });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    await stack.client.workflow.getHandle(erasureWorkflowId(id)).result();
    expect(await storage.get(media.storage_key!)).toBeUndefined();
    expect(await stack.db('media').where({ id: media.id }).first()).toBeUndefined();
  });

  it('serves a download URL to its token only, until it expires, as Meta does', async () => {
    const id = newMediaId();
    await receive({ type: 'image', image: { id } });
    const graph = `${stack.sandbox!.url}/v25.0`;
    const integration = await stack.db('channel_integrations').where({ business_id: number.businessId }).first();
    expect((await fetch(`${graph}/${id}`)).status).toBe(400);
    // The integration's token, read the way the worker reads it.
    const bearer = (await readIntegrationToken(stack.db, stack.config.keyring, integration!.id))!;
    const info = (await (await fetch(`${graph}/${id}`, { headers: { authorization: `Bearer ${bearer}` } })).json()) as {
      url: string;
      file_size: string;
    };
    expect(info.file_size).toBe('2048');
    expect((await fetch(info.url)).status).toBe(401);
    expect((await fetch(info.url, { headers: { authorization: `Bearer ${bearer}` } })).status).toBe(200);
    stack.sandbox!.state.advanceClock(5 * 60_000 + 1_000);
    expect((await fetch(info.url, { headers: { authorization: `Bearer ${bearer}` } })).status).toBe(404);
  });
});
