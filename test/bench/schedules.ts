// npm run bench:schedules [count] — N integrations with real sandbox tokens, one token Schedule
// each: time to create the schedules, then time for one round of refreshes (every schedule
// triggered at once, until every integration records its check), with the worker as a process.
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { SANDBOX_APP_ID } from '../../src/config.js';
import { codecKeyring, parseKeyring } from '../../src/crypto.js';
import { GraphClient } from '../../src/meta/graph-client.js';
import { persistConnectedIntegration } from '../../src/store/integrations.js';
import { dataConverter } from '../../src/temporal/client.js';
import { tokenScheduleId } from '../../src/temporal/names.js';
import { ensureTokenSchedule } from '../../src/temporal/schedules.js';
import { loadConfig } from '../../src/config.js';
import { answerDialog } from '../helpers/meta-flow.js';
import { percentile, startSystem } from './system.js';

const count = Number(process.argv[2] ?? 1000);
const system = await startSystem();
try {
  const config = loadConfig(system.env, 'worker');
  const keyring = parseKeyring(system.secrets.CREDENTIALS_ENCRYPTION_KEY);
  const graph = new GraphClient({
    graphApiUrl: system.sandbox.url,
    graphApiVersion: 'v25.0',
    appId: SANDBOX_APP_ID,
    appSecret: system.secrets.META_APP_SECRET,
  });
  const redirectUri = `${system.apiUrl}/api/integrations/whatsapp/callback`;

  // Setup (not timed): N businesses, each granted a sandbox account through the dialog.
  const integrations: Array<{ integrationId: string; businessId: string }> = [];
  for (let i = 0; i < count; i++) {
    const account = system.sandbox.state.createAccount({ numbers: 1, subscribed: true });
    const dialog = `${system.sandbox.url}/v25.0/dialog/oauth?client_id=${SANDBOX_APP_ID}&redirect_uri=${encodeURIComponent(redirectUri)}&state=s${i}&response_type=code&scope=whatsapp_business_management`;
    const code = new URL(await answerDialog(dialog, { decision: 'approve', account: account.wabaId })).searchParams.get(
      'code',
    )!;
    const short = await graph.exchangeCode(code, redirectUri);
    const long = await graph.exchangeForLongLived(short.access_token);
    const businessId = `bench-schedules-${i}`;
    const { integrationId } = await persistConnectedIntegration(system.db, keyring, {
      businessId,
      metaUserId: account.userId,
      token: {
        value: long.access_token,
        expiresAt: new Date(Date.now() + (long.expires_in ?? 0) * 1000),
        type: 'USER',
      },
      accounts: [{ wabaId: account.wabaId, name: null, currency: null, timezoneId: null, phoneNumbers: [] }],
      subscribedWabaIds: [account.wabaId],
      registeredNumberIds: [],
      expiryThresholdDays: 10,
    });
    integrations.push({ integrationId, businessId });
  }
  const client = new Client({
    connection: await Connection.connect({ address: config.temporal.address }),
    dataConverter: dataConverter(codecKeyring(keyring)),
  });

  let started = performance.now();
  for (let i = 0; i < integrations.length; i += 20) {
    await Promise.all(integrations.slice(i, i + 20).map((target) => ensureTokenSchedule(client, config, target)));
  }
  const createMs = performance.now() - started;
  console.log(
    `${count} schedules created in ${(createMs / 1000).toFixed(1)} s (${(count / (createMs / 1000)).toFixed(0)}/s, 20 concurrent)`,
  );

  // Half the tokens are about to expire, so the round includes real exchanges.
  const checkedBefore = new Date();
  for (const [i, target] of integrations.entries()) {
    if (i % 2 === 0) continue;
    const waba = await system
      .db('whatsapp_business_accounts')
      .where({ integration_id: target.integrationId })
      .first('waba_id');
    system.sandbox.state.setTokenExpiry(waba!.waba_id, 2 * 86_400);
  }
  const since = system.sandbox.state.calls().at(-1)?.seq ?? 0;
  started = performance.now();
  for (let i = 0; i < integrations.length; i += 20) {
    await Promise.all(
      integrations.slice(i, i + 20).map((t) => client.schedule.getHandle(tokenScheduleId(t.integrationId)).trigger()),
    );
  }
  const triggerMs = performance.now() - started;
  const doneAt: number[] = [];
  for (;;) {
    const done = await system
      .db('channel_integrations')
      .where('token_checked_at', '>', checkedBefore)
      .count<Array<{ count: number }>>('* as count');
    if (Number(done[0]!.count) >= count) break;
    if (performance.now() - started > 30 * 60_000) throw new Error('refresh round did not finish in 30 minutes');
    await sleep(250);
  }
  const roundMs = performance.now() - started;
  const rows = await system
    .db('channel_integrations')
    .whereIn(
      'business_id',
      integrations.map((t) => t.businessId),
    )
    .select('token_checked_at', 'token_health');
  for (const row of rows) doneAt.push(row.token_checked_at!.getTime() - checkedBefore.getTime());
  const calls = system.sandbox.state.calls({ since });
  console.log(
    `one round of ${count} refreshes: triggered in ${(triggerMs / 1000).toFixed(1)} s, all checked after ${(roundMs / 1000).toFixed(1)} s (${(count / (roundMs / 1000)).toFixed(1)} checks/s; p50 ${(percentile(doneAt, 50) / 1000).toFixed(1)} s)`,
  );
  console.log(
    `  Graph calls: ${calls.filter((c) => c.operation === 'debug_token').length} debug_token, ${calls.filter((c) => c.operation === 'oauth.fb_exchange').length} fb_exchange_token; health: ${JSON.stringify(rows.reduce<Record<string, number>>((a, r) => ({ ...a, [r.token_health]: (a[r.token_health] ?? 0) + 1 }), {}))}`,
  );
  await client.connection.close();
} finally {
  await system.stop();
}
