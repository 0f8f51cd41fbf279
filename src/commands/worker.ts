// `worker`: the Temporal workers, one per task queue, on one connection. Refuses to start while the
// namespace lacks a search attribute the workflows set (every start would fail); makes sure the
// deployment's Schedules (reconcile, retention) exist.
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '@temporalio/client';
import type { NativeConnection, Worker } from '@temporalio/worker';
import type { Config } from '../config.js';
import { createDb, type Db } from '../db.js';
import type { Logger } from '../logger.js';
import { connectTemporalWorker, dataConverter } from '../temporal/client.js';
import { installRuntime } from '../temporal/runtime.js';
import { createWorkers, workerPoolSize } from '../temporal/worker.js';
import { sdkWorkerMetrics } from '../metrics.js';
import { ensureDeploymentSchedule } from '../temporal/schedules.js';
import { checkSearchAttributes, SearchAttributesError } from '../temporal/search-attributes.js';
import { startOutboxDrain, type OutboxDrain } from '../services/outbox-drain.js';

export interface RunningWorker {
  workers: Worker[];
  /** The workflow-start outbox drain this worker runs. */
  drain: OutboxDrain;
  /** Resolves when every worker has stopped (after shutdown() or a fatal error). */
  done: Promise<void>;
  shutdown(): Promise<void>;
}

/** Connects with backoff, so a worker started before its Temporal server waits instead of dying. */
async function connectWithRetry(config: Config, log: Logger): Promise<NativeConnection> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await connectTemporalWorker(config);
    } catch (error) {
      const delay = Math.min(30_000, 500 * 2 ** Math.min(attempt, 6));
      log.warn(
        { address: config.temporal.address, attempt, retryInMs: delay, err: (error as Error).message },
        'Temporal not reachable yet',
      );
      await sleep(delay);
    }
  }
}

async function refuseWithoutSearchAttributes(client: Client): Promise<void> {
  const { missing, wrongType } = await checkSearchAttributes(client);
  const names = [...missing, ...wrongType];
  if (names.length === 0) return;
  throw new SearchAttributesError(
    `Namespace "${client.options.namespace}" lacks search attribute(s) ${names.join(', ')} (or has them with another type): ` +
      'every workflow start would be refused. Run `npm run migrate`, which registers them.',
    names,
  );
}

export async function startWorker(
  config: Config,
  log: Logger,
  options: {
    db?: Db;
    workflowBundlePath?: string;
    /** Create the deployment's Schedules (reconcile, retention); tests sharing a namespace say no. */
    reconcile?: boolean;
    drain?: boolean;
  } = {},
): Promise<RunningWorker> {
  installRuntime(log, config.workerMetricsPort !== undefined ? { metricsPort: config.workerMetricsPort } : {});
  const connection = await connectWithRetry(config, log);
  const client = new Client({
    connection,
    namespace: config.temporal.namespace,
    dataConverter: dataConverter(config.codecKeyring),
  });
  try {
    await refuseWithoutSearchAttributes(client);
  } catch (error) {
    await connection.close();
    throw error;
  }
  // Every slot may hold a connection; a smaller pool makes activities wait on the pool instead.
  const db = options.db ?? createDb(config.databaseUrl, { log, poolMax: workerPoolSize(config) });
  const workers = await createWorkers({
    config,
    db,
    log,
    client,
    connection,
    metrics: sdkWorkerMetrics(),
    ...(options.workflowBundlePath ? { workflowBundlePath: options.workflowBundlePath } : {}),
  });
  log.info({ taskQueues: workers.map((w) => w.options.taskQueue), slots: config.worker.slots }, 'worker polling');
  if (options.reconcile !== false) {
    for (const schedule of ['reconcile', 'retentionSweep'] as const) {
      ensureDeploymentSchedule(client, config, schedule).catch((error: unknown) =>
        log.warn(
          { err: (error as Error).message, schedule },
          `could not create the ${schedule} schedule; the next start tries again`,
        ),
      );
    }
  }
  const drain = startOutboxDrain({ config, db, temporal: client, log }, { run: options.drain !== false });
  const stopAll = () => {
    for (const worker of workers) if (worker.getState() === 'RUNNING') worker.shutdown();
  };
  // One worker failing stops the others: the process exits and is restarted as a whole.
  const runs = workers.map((worker) =>
    worker.run().catch((error: unknown) => {
      stopAll();
      throw error;
    }),
  );
  const done = (async () => {
    try {
      const failed = (await Promise.allSettled(runs)).find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
    } finally {
      await drain.stop();
      await connection.close();
      if (!options.db) await db.destroy();
    }
  })();
  return {
    workers,
    drain,
    done,
    shutdown: async () => {
      stopAll();
      await done;
    },
  };
}
