// The Temporal worker: the workflows of workflows/ and the activities of activities/, on one task queue.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../../activities/index.js';
import type { Config } from '../config.js';
import type { Db } from '../db.js';
import type { Logger } from '../logger.js';
import { graphClientFromConfig } from '../meta/graph-client.js';
import { noWorkerMetrics, type WorkerMetrics } from '../metrics.js';
import { dataConverter, failureConverterPath } from './client.js';

/** The workflows' entry: compiled JS under dist/, the TypeScript source when run from source (tests). */
function workflowsPath(): string {
  const compiled = fileURLToPath(new URL('../../workflows/index.js', import.meta.url));
  return existsSync(compiled) ? compiled : compiled.replace(/\.js$/, '.ts');
}

/** Where `npm run build` writes the prebuilt workflow bundle, so a worker starts without webpack. */
export const prebuiltBundlePath = fileURLToPath(new URL('../../workflow-bundle.js', import.meta.url));

/** Bundles the workflows once (webpack), e.g. at build time or in the tests' global setup. */
export async function bundleWorkflows(): Promise<string> {
  const { code } = await bundleWorkflowCode({
    workflowsPath: workflowsPath(),
    failureConverterPath,
    logger: { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: console.warn, error: console.error },
  });
  return code;
}

/** The running activity's cancellation signal (undefined outside an activity). */
function activitySignal(): AbortSignal | undefined {
  try {
    return Context.current().cancellationSignal;
  } catch {
    return undefined;
  }
}

export interface WorkerSetup {
  config: Config;
  db: Db;
  log: Logger;
  client: Client;
  connection: NativeConnection;
  /** Overrides the config's task queue (tests run one queue per file). */
  taskQueue?: string;
  /** A bundle from bundleWorkflows(); otherwise the prebuilt one, otherwise bundled now. */
  workflowBundlePath?: string;
  tuning?: Partial<WorkerOptions>;
  metrics?: WorkerMetrics;
}

export async function createWorker(setup: WorkerSetup): Promise<Worker> {
  const { config, db, log, client } = setup;
  const bundlePath = setup.workflowBundlePath ?? (existsSync(prebuiltBundlePath) ? prebuiltBundlePath : undefined);
  const metrics = setup.metrics ?? noWorkerMetrics;
  return Worker.create({
    connection: setup.connection,
    namespace: config.temporal.namespace,
    taskQueue: setup.taskQueue ?? config.temporal.taskQueue,
    ...(bundlePath ? { workflowBundle: { codePath: bundlePath } } : { workflowsPath: workflowsPath() }),
    activities: createActivities({ config, db, log, temporal: client, metrics, graph: graphClientFromConfig(config.meta, { onCall: (call) => metrics.graphCall(call), cancellation: activitySignal }) }),
    dataConverter: dataConverter(config.keyring),
    // I/O-bound activities: most of their time is spent waiting on Meta or PostgreSQL.
    maxConcurrentActivityTaskExecutions: 100,
    maxConcurrentLocalActivityExecutions: 100,
    maxConcurrentWorkflowTaskExecutions: 40,
    shutdownGraceTime: '10s',
    ...setup.tuning,
  });
}
