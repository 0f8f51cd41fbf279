// `worker`: the Temporal worker on the configured task queue.
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import type { Config } from '../config.js';
import { createDb, type Db } from '../db.js';
import type { Logger } from '../logger.js';
import { dataConverter } from '../temporal/client.js';
import { installRuntime } from '../temporal/runtime.js';
import { createWorker } from '../temporal/worker.js';
import { sdkWorkerMetrics } from '../metrics.js';
import { reconcileSchedules } from '../services/reconcile.js';

export interface RunningWorker {
  worker: Worker;
  /** Resolves when the worker has stopped (after shutdown() or a fatal error). */
  done: Promise<void>;
  shutdown(): Promise<void>;
}

/** Connects with backoff, so a worker started before its Temporal server waits instead of dying. */
async function connectWithRetry(address: string, log: Logger): Promise<NativeConnection> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await NativeConnection.connect({ address });
    } catch (error) {
      const delay = Math.min(30_000, 500 * 2 ** Math.min(attempt, 6));
      log.warn({ address, attempt, retryInMs: delay, err: (error as Error).message }, 'Temporal not reachable yet');
      await sleep(delay);
    }
  }
}

export async function startWorker(
  config: Config,
  log: Logger,
  options: { db?: Db; workflowBundlePath?: string; taskQueue?: string; reconcile?: boolean } = {},
): Promise<RunningWorker> {
  installRuntime(log, config.workerMetricsPort !== undefined ? { metricsPort: config.workerMetricsPort } : {});
  const db = options.db ?? createDb(config.databaseUrl, { log });
  const connection = await connectWithRetry(config.temporal.address, log);
  const client = new Client({ connection, namespace: config.temporal.namespace, dataConverter: dataConverter(config.keyring) });
  const worker = await createWorker({
    config,
    db,
    log,
    client,
    connection,
    metrics: sdkWorkerMetrics(),
    ...(options.workflowBundlePath ? { workflowBundlePath: options.workflowBundlePath } : {}),
    ...(options.taskQueue ? { taskQueue: options.taskQueue } : {}),
  });
  log.info({ taskQueue: options.taskQueue ?? config.temporal.taskQueue }, 'worker polling');
  if (options.reconcile !== false) {
    // Every active integration gets exactly one token schedule; orphans go. Never fatal.
    reconcileSchedules(db, client, config).then(
      (report) => log.info({ ...report }, `reconcile: ${report.created.length} schedule(s) created, ${report.removed.length} removed`),
      (error: unknown) => log.warn({ err: (error as Error).message }, 'reconcile failed; it runs again at the next start or with npm run reconcile'),
    );
  }
  const done = (async () => {
    try {
      await worker.run();
    } finally {
      await connection.close();
      if (!options.db) await db.destroy();
    }
  })();
  return {
    worker,
    done,
    shutdown: async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await done;
    },
  };
}
