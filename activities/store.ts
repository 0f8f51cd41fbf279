// Activities that read and write PostgreSQL.
import { hostname } from 'node:os';
import { ApplicationFailure } from '@temporalio/common';
import { recordAttemptFinished } from '../src/store/connect.js';
import { NumberInUseError, numbersActiveElsewhere, persistConnectedIntegration } from '../src/store/integrations.js';
import { dropStaged, readStagedToken } from '../src/store/staging.js';
import type { Discovery } from './connect-types.js';
import type { ActivityDeps } from './deps.js';

const numberInUse = () =>
  ApplicationFailure.create({ type: 'number_in_use', message: 'a granted phone number is active under another business', nonRetryable: true });

export function createStoreActivities({ db, config }: ActivityDeps) {
  return {
    /** Writes one row per self check, proving a worker reached the database. Idempotent on checkId. */
    async recordSelfCheck(checkId: string): Promise<{ workerIdentity: string; checkedAt: string }> {
      const workerIdentity = `${process.pid}@${hostname()}`;
      const [row] = await db('self_checks')
        .insert({ id: checkId, worker_identity: workerIdentity })
        .onConflict('id')
        .merge()
        .returning(['worker_identity', 'checked_at']);
      return { workerIdentity: row!.worker_identity, checkedAt: row!.checked_at.toISOString() };
    },

    /** Fails with number_in_use before anything is subscribed at Meta for numbers of another business. */
    async checkNumbersAvailable(input: { businessId: string; phoneNumberIds: string[] }): Promise<void> {
      const conflicts = await numbersActiveElsewhere(db, input.businessId, input.phoneNumberIds);
      if (conflicts.length > 0) throw numberInUse();
    },

    /** Persists the integration with its accounts and numbers, and moves the token out of staging. */
    async persistIntegration(input: {
      connectId: string;
      businessId: string;
      discovery: Discovery;
      subscribedWabaIds: string[];
      registeredNumberIds: string[];
    }): Promise<{ integrationId: string }> {
      const token = await readStagedToken(db, config.keyring, input.connectId);
      if (!token) {
        // A retry after a successful persist: the staging rows are gone, the integration is there.
        const done = await db('connect_attempts').where({ workflow_id: input.connectId }).first('integration_id');
        if (done?.integration_id) return { integrationId: done.integration_id };
        throw ApplicationFailure.create({ type: 'internal_error', message: 'no staged token to persist', nonRetryable: true });
      }
      try {
        const result = await persistConnectedIntegration(db, config.keyring, {
          businessId: input.businessId,
          metaUserId: input.discovery.metaUserId,
          token: { value: token.value, expiresAt: token.expiresAt, type: input.discovery.tokenType },
          accounts: input.discovery.accounts,
          subscribedWabaIds: input.subscribedWabaIds,
          registeredNumberIds: input.registeredNumberIds,
          expiryThresholdDays: config.tokens.expiryThresholdDays,
        });
        await db('connect_attempts').where({ workflow_id: input.connectId }).update({ integration_id: result.integrationId });
        await dropStaged(db, input.connectId);
        return result;
      } catch (error) {
        if (error instanceof NumberInUseError) throw numberInUse();
        throw error;
      }
    },

    /** Destroys the token ciphertext of an integration that is no longer active. */
    async destroyCredentials(input: { integrationId: string }): Promise<void> {
      await db('channel_integrations')
        .where({ id: input.integrationId, is_active: false })
        .update({ credentials: null, token_health: 'unknown', updated_at: new Date() });
    },

    /** Records how a connect ended and removes whatever it still had staged. */
    async finishConnect(input: {
      connectId: string;
      state: 'succeeded' | 'failed';
      errorCode?: string;
      errorMessage?: string;
      integrationId?: string;
    }): Promise<void> {
      const { connectId, ...outcome } = input;
      await recordAttemptFinished(db, connectId, outcome);
      await dropStaged(db, connectId);
    },
  };
}
