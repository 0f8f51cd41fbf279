// `npm run rekey` after a key rotation: every token, PIN and staged secret, and every token
// schedule's arguments, end up under the new first keys, so the old key can be removed; a second
// run rewrites nothing; and a rekey while tokens are refreshed, numbers connected and PINs set loses
// none of those writes. Each describe runs on a database of its own: rekey rewrites every row it finds.
import { randomBytes, randomInt } from 'node:crypto';
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { Client } from '@temporalio/client';
import { loadConfig, type Config } from '../src/config.js';
import { codecKeyring, generateKeyringEntry, parseKeyring, type Keyring } from '../src/crypto.js';
import { createDb, dropDatabase, type Db } from '../src/db.js';
import { rekey } from '../src/services/rekey.js';
import { persistConnectedIntegration, readIntegrationToken, storeIntegrationToken } from '../src/store/integrations.js';
import { readPin, storePin } from '../src/store/registration.js';
import { readStaged, stageSecret } from '../src/store/staging.js';
import { dataConverter } from '../src/temporal/client.js';
import { deleteTokenSchedule } from '../src/temporal/schedules.js';
import { tokenScheduleId } from '../src/temporal/names.js';
import { authHeaders } from './helpers/jwt.js';
import { connectThroughMeta, getStatus } from './helpers/meta-flow.js';
import { newBusinessId } from './helpers/factories.js';
import { ownDatabase, startStack, type Stack } from './helpers/stack.js';

const OLD = generateKeyringEntry('old');
const NEW = generateKeyringEntry('new');
const CODEC = generateKeyringEntry('codec2');

describe('rekey', () => {
  let stack: Stack;
  let databaseUrl: string;
  let rotated: Config;
  let integrationId: string;
  let numberId: string;

  beforeAll(async () => {
    databaseUrl = await ownDatabase();
    stack = await startStack({
      api: true,
      sandbox: true,
      env: { DATABASE_URL: databaseUrl, CREDENTIALS_ENCRYPTION_KEY: OLD },
    });
    const businessId = newBusinessId();
    await connectThroughMeta(stack.api!.url, businessId);
    const status = await getStatus(stack.api!.url, businessId);
    integrationId = status.integration.id;
    const phoneNumberId = status.accounts[0].phoneNumbers[0].phoneNumberId as string;
    const pin = await fetch(`${stack.api!.url}/api/integrations/whatsapp/numbers/${phoneNumberId}/pin`, {
      method: 'PUT',
      headers: { ...(await authHeaders(businessId)), 'content-type': 'application/json' },
      body: JSON.stringify({ pin: '424242' }),
    });
    expect(pin.status).toBe(200);
    numberId = (await stack.db('whatsapp_phone_numbers').where({ phone_number_id: phoneNumberId }).first('id'))!.id;
    await stageSecret(stack.db, stack.config.keyring, 'connect-rekey', 'code', 'the-authorization-code');
    // The rotation: a new first key for credentials, and keys of its own for the codec.
    rotated = loadConfig(
      { ...stack.env, CREDENTIALS_ENCRYPTION_KEY: `${NEW},${OLD}`, TEMPORAL_CODEC_KEY: CODEC },
      'reconcile',
    );
  }, 60_000);

  afterAll(async () => {
    await stack?.client.schedule
      .getHandle(tokenScheduleId(integrationId))
      .delete()
      .catch(() => undefined);
    await stack?.close();
    if (databaseUrl) await dropDatabase(databaseUrl);
  });

  it('rewrites every secret and schedule under the new keys, reports counts per key, and then rewrites nothing', async () => {
    const client = new Client({
      connection: stack.client.connection,
      namespace: rotated.temporal.namespace,
      dataConverter: dataConverter(rotated.codecKeyring),
    });
    const first = await rekey(stack.db, client, rotated);
    expect(first).toMatchObject({
      credentialsKey: 'new',
      codecKey: 'codec2',
      tokens: { before: { old: 1 }, rewritten: 1 },
      pins: { before: { old: 1 }, rewritten: 1 },
      stagedSecrets: { before: { old: 1 }, rewritten: 1 },
      schedules: { before: { old: 1 }, rewritten: 1 },
    });

    const second = await rekey(stack.db, client, rotated);
    expect(second).toMatchObject({
      tokens: { before: { new: 1 }, rewritten: 0 },
      pins: { before: { new: 1 }, rewritten: 0 },
      stagedSecrets: { before: { new: 1 }, rewritten: 0 },
      schedules: { before: { codec2: 1 }, rewritten: 0 },
    });

    // The old key can go: everything reads with the new keys alone.
    const newOnly = parseKeyring(NEW);
    expect(await readIntegrationToken(stack.db, newOnly, integrationId)).toMatch(/^EAA/);
    expect(await readPin(stack.db, newOnly, numberId)).toBe('424242');
    expect((await readStaged(stack.db, newOnly, 'connect-rekey', 'code'))?.value).toBe('the-authorization-code');
    const withoutOld = new Client({
      connection: stack.client.connection,
      namespace: rotated.temporal.namespace,
      dataConverter: dataConverter(codecKeyring(newOnly, parseKeyring(CODEC))),
    });
    const schedule = await withoutOld.schedule.getHandle(tokenScheduleId(integrationId)).describe();
    expect(schedule.action.type === 'startWorkflow' && schedule.action.args).toEqual([
      expect.objectContaining({ integrationId }),
    ]);
  });
});

describe('rekey under concurrent writes', () => {
  /** Integrations (each with a number and its PIN) and staged secrets written under the old key. */
  const ROWS = 30;
  let stack: Stack;
  let databaseUrl: string;
  let old: Keyring;
  let rotated: Config;
  const integrationIds: string[] = [];
  const numberIds: string[] = [];
  const connectIds: string[] = [];
  /** The value each row holds, as last written (and committed). */
  const tokens = new Map<string, string>();
  const pins = new Map<string, string>();
  const staged = new Map<string, string>();

  const digits = (n: number) => Array.from({ length: n }, (_, i) => randomInt(i === 0 ? 1 : 0, 10)).join('');
  /** What a connect stores: an integration with one account and one number, its token under `keyring`. */
  async function connect(db: Db, keyring: Keyring, label: string): Promise<void> {
    const token = `EAA-${label}-${randomBytes(6).toString('hex')}`;
    const wabaId = digits(15);
    const number = {
      phoneNumberId: digits(15),
      displayPhoneNumber: null,
      verifiedName: null,
      qualityRating: null,
      messagingLimitTier: null,
      businessMessagingLimit: null,
      throughputLevel: null,
      nameStatus: null,
      codeVerificationStatus: 'VERIFIED',
      platformType: 'CLOUD_API',
      status: 'CONNECTED',
      isOnBizApp: false,
    };
    const { integrationId } = await persistConnectedIntegration(db, keyring, {
      businessId: newBusinessId('rekey'),
      metaUserId: null,
      token: { value: token, expiresAt: null, type: 'SYSTEM_USER' },
      accounts: [{ wabaId, name: null, currency: null, timezoneId: null, phoneNumbers: [number] }],
      subscribedWabaIds: [wabaId],
      registeredNumberIds: [],
      expiryThresholdDays: 7,
    });
    tokens.set(integrationId, token);
    integrationIds.push(integrationId);
    const row = await db('whatsapp_phone_numbers').where({ integration_id: integrationId }).first('id');
    numberIds.push(row!.id);
  }

  beforeAll(async () => {
    databaseUrl = await ownDatabase();
    stack = await startStack({ worker: false, env: { DATABASE_URL: databaseUrl, CREDENTIALS_ENCRYPTION_KEY: OLD } });
    old = stack.config.keyring;
    for (let i = 0; i < ROWS; i++) {
      await connect(stack.db, old, 'initial');
      const pin = digits(6);
      await storePin(stack.db, old, numberIds[i]!, pin);
      pins.set(numberIds[i]!, pin);
      const connectId = `connect-concurrent-${i}`;
      await stageSecret(stack.db, old, connectId, 'code', `code-initial-${i}`);
      staged.set(connectId, `code-initial-${i}`);
      connectIds.push(connectId);
    }
    // Every process runs with the rotated keyring before rekey starts (README, Key rotation).
    rotated = loadConfig({ ...stack.env, CREDENTIALS_ENCRYPTION_KEY: `${NEW},${OLD}` }, 'reconcile');
  }, 60_000);

  afterAll(async () => {
    for (const id of integrationIds) await deleteTokenSchedule(stack.client, id).catch(() => undefined);
    await stack?.close();
    if (databaseUrl) await dropDatabase(databaseUrl);
  });

  it('loses no write made during the rekey, leaves every secret under the new key and counts each row once', async () => {
    // Room for the held transactions, the writers, the rekey and the test's own queries.
    const db = createDb(databaseUrl, { poolMax: 12 });
    onTestFinished(() => db.destroy());
    const keyring = rotated.keyring;
    // One row of each kind is written in a transaction that commits only once rekey, having read
    // the old ciphertext, waits on that row: the lost update, if there is one, happens every time.
    const held = {
      token: { id: integrationIds[0]!, value: 'EAA-held-refresh' },
      pin: { id: numberIds[0]!, value: '777777' },
      staged: { id: connectIds[0]!, value: 'code-held' },
    };
    const hold = async (write: (trx: Knex.Transaction) => Promise<void>) => {
      const trx = await db.transaction();
      const pid = ((await trx.raw('SELECT pg_backend_pid() AS pid')) as { rows: Array<{ pid: number }> }).rows[0]!.pid;
      await write(trx);
      return { trx, pid };
    };
    const holds = [
      await hold((trx) =>
        storeIntegrationToken(trx, keyring, held.token.id, { value: held.token.value, expiresAt: null }),
      ),
      await hold((trx) => storePin(trx, keyring, held.pin.id, held.pin.value)),
      await hold((trx) => stageSecret(trx, keyring, held.staged.id, 'code', held.staged.value)),
    ];
    const blockedBy = async (pid: number) =>
      Number(
        (
          (await db.raw('SELECT count(*) AS n FROM pg_stat_activity WHERE ? = ANY(pg_blocking_pids(pid))', [pid])) as {
            rows: Array<{ n: string }>;
          }
        ).rows[0]!.n,
      );

    // Meanwhile, in loops: token refreshes, PINs set, secrets staged and new connects. Each row has
    // one writer, so the value last committed is the one last recorded.
    let running = true;
    const written = { tokens: 0, pins: 0, staged: 0, connects: 0 };
    const loop = async (write: (n: number) => Promise<void>) => {
      for (let n = 0; running; n++) await write(n);
    };
    const share = <T>(list: T[], k: number, of: number) => list.slice(1, ROWS).filter((_, i) => i % of === k);
    const writers = [
      ...[0, 1].map((k) =>
        loop(async (n) => {
          const rows = share(integrationIds, k, 2);
          const id = rows[n % rows.length]!;
          const value = `EAA-refreshed-${n}-${randomBytes(4).toString('hex')}`;
          await storeIntegrationToken(db, keyring, id, { value, expiresAt: null });
          tokens.set(id, value);
          written.tokens += 1;
        }),
      ),
      ...[0, 1].map((k) =>
        loop(async (n) => {
          const rows = share(numberIds, k, 2);
          const id = rows[n % rows.length]!;
          const pin = digits(6);
          await storePin(db, keyring, id, pin);
          pins.set(id, pin);
          written.pins += 1;
        }),
      ),
      loop(async (n) => {
        const rows = share(connectIds, 0, 1);
        const id = rows[n % rows.length]!;
        const value = `code-${n}-${randomBytes(4).toString('hex')}`;
        await stageSecret(db, keyring, id, 'code', value);
        staged.set(id, value);
        written.staged += 1;
      }),
      loop(async () => {
        if (written.connects >= 20) return void (await new Promise((r) => setTimeout(r, 10)));
        await connect(db, keyring, 'during');
        written.connects += 1;
      }),
    ];

    const client = new Client({
      connection: stack.client.connection,
      namespace: rotated.temporal.namespace,
      dataConverter: dataConverter(rotated.codecKeyring),
    });
    const rekeying = rekey(db, client, rotated);
    const before = { ...written };
    for (const [{ trx, pid }, kind] of holds.map((h, i) => [h, ['token', 'pin', 'staged'][i]] as const)) {
      await expect.poll(() => blockedBy(pid), { timeout: 20_000, message: `rekey waits on the held ${kind}` }).toBe(1);
      await trx.commit();
    }
    const report = await rekeying;
    const during = {
      tokens: written.tokens - before.tokens,
      pins: written.pins - before.pins,
      staged: written.staged - before.staged,
      connects: written.connects - before.connects,
    };
    running = false;
    await Promise.all(writers);
    tokens.set(held.token.id, held.token.value);
    pins.set(held.pin.id, held.pin.value);
    staged.set(held.staged.id, held.staged.value);

    // The writers did write while the rekey ran (else this test would prove nothing).
    expect(during.tokens).toBeGreaterThan(0);
    expect(during.pins).toBeGreaterThan(0);
    expect(during.staged).toBeGreaterThan(0);

    // No write was lost, and the old key can go: every row reads with the new key alone.
    const newOnly = parseKeyring(NEW);
    const readTokens = await Promise.all(integrationIds.map((id) => readIntegrationToken(db, newOnly, id)));
    expect(readTokens).toEqual(integrationIds.map((id) => tokens.get(id)));
    // Numbers connected during the rekey have no PIN yet.
    const readPins = await Promise.all(numberIds.map((id) => readPin(db, newOnly, id)));
    expect(readPins).toEqual(numberIds.map((id) => pins.get(id)));
    const readSecrets = await Promise.all(
      connectIds.map(async (id) => (await readStaged(db, newOnly, id, 'code'))?.value),
    );
    expect(readSecrets).toEqual(connectIds.map((id) => staged.get(id)));

    // Each row read under the old key was either rewritten or left because a writer replaced it;
    // the held rows are among the latter, and nothing is counted that no writer could have touched.
    for (const [kind, count, rows, writes] of [
      ['tokens', report.tokens, ROWS, during.tokens + during.connects],
      ['pins', report.pins, ROWS, during.pins],
      ['stagedSecrets', report.stagedSecrets, ROWS, during.staged],
    ] as const) {
      const seen = Object.values(count.before).reduce((a, b) => a + b, 0);
      expect(
        Object.keys(count.before).every((k) => k === 'old' || k === 'new'),
        kind,
      ).toBe(true);
      expect(count.before.old ?? 0, kind).toBeLessThanOrEqual(rows);
      expect(count.rewritten + count.changedMeanwhile, kind).toBe(count.before.old ?? 0);
      expect(count.changedMeanwhile, kind).toBeGreaterThanOrEqual(1);
      expect(count.changedMeanwhile, kind).toBeLessThanOrEqual(1 + writes);
      expect(seen, kind).toBeGreaterThanOrEqual(rows);
      expect(seen, kind).toBeLessThanOrEqual(kind === 'tokens' ? rows + written.connects : rows);
    }

    // A second pass finds everything under the new key and rewrites nothing.
    const again = await rekey(db, client, rotated);
    for (const [count, total] of [
      [again.tokens, integrationIds.length],
      [again.pins, ROWS],
      [again.stagedSecrets, connectIds.length],
    ] as const) {
      expect(count).toEqual({ before: { new: total }, rewritten: 0, changedMeanwhile: 0 });
    }
  }, 120_000);
});
