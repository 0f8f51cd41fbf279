// `npm run rekey` after a key rotation: every token, PIN and staged secret, and every token
// schedule's arguments, end up under the new first keys, so the old key can be removed; a second
// run rewrites nothing. It runs on a database of its own: it rewrites every row it finds.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Client } from '@temporalio/client';
import { loadConfig, type Config } from '../src/config.js';
import { codecKeyring, generateKeyringEntry, parseKeyring } from '../src/crypto.js';
import { createDb, dropDatabase, ensureDatabase, migrateLatest } from '../src/db.js';
import { rekey } from '../src/services/rekey.js';
import { readIntegrationToken } from '../src/store/integrations.js';
import { readPin } from '../src/store/registration.js';
import { readStaged, stageSecret } from '../src/store/staging.js';
import { dataConverter } from '../src/temporal/client.js';
import { tokenScheduleId } from '../src/temporal/names.js';
import { authHeaders } from './helpers/jwt.js';
import { connectThroughMeta, getStatus } from './helpers/meta-flow.js';
import { newBusinessId } from './helpers/factories.js';
import { startStack, type Stack } from './helpers/stack.js';

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
    const url = new URL(inject('databaseUrl'));
    url.pathname = `/waconnect_rekey_${randomBytes(4).toString('hex')}`;
    databaseUrl = url.toString();
    await ensureDatabase(databaseUrl);
    const db = createDb(databaseUrl, { poolMax: 1 });
    await migrateLatest(db);
    await db.destroy();
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
