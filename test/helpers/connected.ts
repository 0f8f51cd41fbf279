// A connected integration without the OAuth dance, for tests that are about what happens after the
// connect (messages, templates, handoff, erasure...). It runs the connect's own activities (discovery
// through the Graph client, subscribe, the persist activity that writes the integration, its
// accounts, numbers and encrypted token, and the registration plan) against a sandbox account, and
// creates the token schedule: a reconcile in any file would otherwise take the integration for one
// that lost its schedule and create it on its own queue. Tests about connecting keep meta-flow.ts.
import { randomUUID } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities/index.js';
import type { CreateAccountInput } from '@waconnect/meta-sandbox';
import { graphClientFromConfig } from '../../src/meta/graph-client.js';
import { noWorkerMetrics } from '../../src/metrics.js';
import { stageSecret } from '../../src/store/staging.js';
import { newBusinessId } from './factories.js';
import type { Stack } from './stack.js';

/** What the connect dialog asks Meta for (the sandbox grants exactly these). */
const GRANTED_SCOPES = ['whatsapp_business_management', 'whatsapp_business_messaging', 'business_management'];
/** A long-lived user token, as the connect's upgrade step leaves it: 60 days. */
const LONG_LIVED_MS = 60 * 86_400_000;

export interface ConnectedIntegration {
  businessId: string;
  integrationId: string;
  wabaId: string;
  /** The first phone number's id. */
  phoneNumberId: string;
  phoneNumberIds: string[];
}

export interface ConnectedOptions {
  businessId?: string;
  /** The sandbox account to create (default: two registered Cloud API numbers, like the dialog's "new"). */
  account?: CreateAccountInput;
  /** An existing sandbox WABA to connect instead of a new one. */
  wabaId?: string;
}

/**
 * A business connected to a sandbox WABA, as a successful connect leaves it: rows written by the
 * connect's persist activity, the app subscribed at the sandbox, the token schedule created.
 */
export async function connectedIntegration(
  stack: Stack,
  options: ConnectedOptions = {},
): Promise<ConnectedIntegration> {
  const sandbox = stack.sandbox?.state;
  if (!sandbox) throw new Error('connectedIntegration needs a stack with the sandbox');
  const businessId = options.businessId ?? newBusinessId();
  const wabaId = options.wabaId ?? sandbox.createAccount({ numbers: 2, registered: true, ...options.account }).wabaId;
  const waba = sandbox.waba(wabaId);
  waba.appUninstalled = false;
  const token = sandbox.world.issueToken(
    sandbox.world.grantFor(wabaId, GRANTED_SCOPES),
    'user_long',
    sandbox.now() + LONG_LIVED_MS,
  );

  const activities = createActivities({
    config: stack.config,
    db: stack.db,
    log: stack.log,
    temporal: stack.client,
    metrics: noWorkerMetrics,
    graph: graphClientFromConfig(stack.config.meta),
  });
  const connectId = `test-connect/${randomUUID()}`;
  await stageSecret(
    stack.db,
    stack.config.keyring,
    connectId,
    'long_lived_token',
    token.value,
    new Date(token.expiresAt),
  );
  const env = new MockActivityEnvironment();
  const inActivity = <R>(step: () => Promise<R>) => env.run(step) as Promise<R>;
  const discovery = await inActivity(() => activities.discoverAccounts({ connectId }));
  // Subscribing through the app's Graph client sets the sandbox's subscription, so the sandbox posts
  // this WABA's webhooks to the API (its default webhook URL, set by startStack).
  for (const account of discovery.accounts)
    await inActivity(() => activities.subscribeApp({ connectId, wabaId: account.wabaId }));
  const { integrationId } = await inActivity(() =>
    activities.persistIntegration({
      connectId,
      businessId,
      discovery,
      subscribedWabaIds: discovery.accounts.map((a) => a.wabaId),
      registeredNumberIds: [],
    }),
  );
  // What the connect records after saving: each number's registration state from Meta's facts.
  const toRegister = await inActivity(() => activities.planRegistrations({ integrationId }));
  if (toRegister.length > 0) throw new Error('numbers that need registering: connect through Meta (meta-flow.ts)');
  await inActivity(() => activities.ensureTokenSchedule({ integrationId, businessId }));
  const phoneNumberIds = discovery.accounts.flatMap((a) => a.phoneNumbers.map((n) => n.phoneNumberId));
  return { businessId, integrationId, wabaId, phoneNumberId: phoneNumberIds[0]!, phoneNumberIds };
}
