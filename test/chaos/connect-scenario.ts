// A connect under faults: Meta hangs on the subscribe step, the worker is killed mid-way and
// restarted, and the browser reloads the callback three times at once.
import { answerDialog, followCallback, getStatus, startConnect } from '../helpers/meta-flow.js';
import type { BenchSystem } from '../bench/system.js';

export interface ConnectScenario {
  businessId: string;
  wabaId: string;
  connected: boolean;
  codeExchanges: number;
  landings: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function connectUnderFaults(
  system: BenchSystem,
  businessId: string,
  log: (line: string) => void,
): Promise<ConnectScenario> {
  const state = system.sandbox.state;
  const jwt = system.secrets.AUTH_JWT_SECRET;
  const account = state.createAccount();
  const since = state.calls().at(-1)?.seq ?? 0;
  state.addFault({ operation: 'waba.subscribe', hangMs: 60_000, objectId: account.wabaId });
  const callbackUrl = await answerDialog(await startConnect(system.apiUrl, businessId, jwt), {
    decision: 'approve',
    account: account.wabaId,
  });
  const landings = [(await followCallback(callbackUrl)).search];
  for (let i = 0; i < 150; i++) {
    const status = await getStatus(system.apiUrl, businessId, jwt).catch(() => undefined);
    if (status?.connect?.step === 'subscribing_webhooks') break;
    await sleep(200);
  }
  const worker = system.instances.worker[0]!;
  await system.killService(worker, 'SIGKILL');
  await sleep(1000);
  await system.startService(worker);
  landings.push(...(await Promise.all([1, 2, 3].map(async () => (await followCallback(callbackUrl)).search))));
  let connected = false;
  for (let i = 0; i < 240 && !connected; i++) {
    connected = Boolean((await getStatus(system.apiUrl, businessId, jwt).catch(() => undefined))?.connected);
    if (!connected) await sleep(500);
  }
  landings.push((await followCallback(callbackUrl)).search);
  const codeExchanges = state.calls({ since, operation: 'oauth.code_exchange' }).length;
  log(`connect ${businessId}: connected=${connected}, code exchanges=${codeExchanges}, landings ${landings.join(' ')}`);
  return { businessId, wabaId: account.wabaId, connected, codeExchanges, landings };
}
