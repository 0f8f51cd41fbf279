// The Temporal workers: one per kind of work (messages; connect and disconnect; token care and
// maintenance), each on its own task queue with its own slots, sharing one connection. Every
// worker registers every workflow and activity, so an execution started on an older queue layout
// still finds its code.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { bundleWorkflowCode, type NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../../activities/index.js';
import type { Config } from '../config.js';
import type { Db } from '../db.js';
import type { Logger } from '../logger.js';
import { graphClientFromConfig } from '../meta/graph-client.js';
import { noWorkerMetrics, type WorkerMetrics } from '../metrics.js';
import { dataConverter, failureConverterPath } from './client.js';
import { QUEUE_KINDS, taskQueueName } from './names.js';

/** The workflows' entry: compiled JS under dist/, the TypeScript source when run from source (tests). */
function workflowsPath(): string {
  const compiled = fileURLToPath(new URL('../../workflows/index.js', import.meta.url));
  return existsSync(compiled) ? compiled : compiled.replace(/\.js$/, '.ts');
}

/** Where `npm run build` writes the prebuilt workflow bundle, so a worker starts without webpack. */
export const prebuiltBundlePath = fileURLToPath(new URL('../../workflow-bundle.js', import.meta.url));

/** Bundles the workflows once (webpack), e.g. at build time or in the tests' global setup. */
export async function bundleWorkflows(): Promise<string> {
  const quiet = () => undefined;
  const { code } = await bundleWorkflowCode({
    workflowsPath: workflowsPath(),
    failureConverterPath,
    logger: { log: quiet, trace: quiet, debug: quiet, info: quiet, warn: console.warn, error: console.error },
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

/**
 * Every Graph call is a sign of life: an activity that pages through many accounts heartbeats
 * after each page, so it is cancellable and a dead worker is noticed within its heartbeat timeout.
 */
function heartbeatAfterCall(): void {
  try {
    const context = Context.current();
    if (!context.info.isLocal) context.heartbeat();
  } catch {
    // Not inside an activity.
  }
}

/** Slots of each queue's worker: N activities and N local activities (all may touch PostgreSQL). */
function workerOptionsFor(slots: number): Partial<WorkerOptions> {
  return {
    maxConcurrentActivityTaskExecutions: slots,
    maxConcurrentLocalActivityExecutions: slots,
    // Workflow tasks hold no database connection; a few more keep the queue moving.
    maxConcurrentWorkflowTaskExecutions: Math.max(4, 2 * slots),
  };
}

/**
 * The database pool a worker needs: one connection for each queue's slot pair (an activity and a
 * local activity), and two spare. An activity holds a connection only for its queries, never while
 * it waits on Meta or a responder, so a slot pair rarely needs two at once; a pool this size keeps
 * every slot from waiting on knex instead of the other way round.
 */
export function workerPoolSize(config: Config): number {
  return QUEUE_KINDS.reduce((sum, kind) => sum + config.worker.slots[kind], 2);
}

export interface WorkerSetup {
  config: Config;
  db: Db;
  log: Logger;
  client: Client;
  connection: NativeConnection;
  /** A bundle from bundleWorkflows(); otherwise the prebuilt one, otherwise bundled now. */
  workflowBundlePath?: string;
  metrics?: WorkerMetrics;
}

export async function createWorkers(setup: WorkerSetup): Promise<Worker[]> {
  const { config, db, log, client } = setup;
  const bundlePath = setup.workflowBundlePath ?? (existsSync(prebuiltBundlePath) ? prebuiltBundlePath : undefined);
  const metrics = setup.metrics ?? noWorkerMetrics;
  const graph = graphClientFromConfig(config.meta, {
    onCall: (call) => {
      metrics.graphCall(call);
      heartbeatAfterCall();
    },
    cancellation: activitySignal,
  });
  const activities = createActivities({ config, db, log, temporal: client, metrics, graph });
  return Promise.all(
    QUEUE_KINDS.map((kind) =>
      Worker.create({
        connection: setup.connection,
        namespace: config.temporal.namespace,
        taskQueue: taskQueueName(config.temporal.taskQueue, kind),
        ...(bundlePath ? { workflowBundle: { codePath: bundlePath } } : { workflowsPath: workflowsPath() }),
        activities,
        // Strict: a payload this deployment's clients did not encrypt is refused, never run.
        dataConverter: dataConverter(config.codecKeyring, {
          strict: true,
          onRefused: () => metrics.unencryptedRefused(),
        }),
        shutdownGraceTime: '10s',
        ...workerOptionsFor(config.worker.slots[kind]),
      }),
    ),
  );
}
