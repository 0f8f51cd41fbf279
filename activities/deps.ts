// What activities are given instead of reaching for globals; tests pass real instances pointed
// at their own database, sandbox and Temporal server.
import type { Client } from '@temporalio/client';
import type { Config } from '../src/config.js';
import type { Db } from '../src/db.js';
import type { Logger } from '../src/logger.js';
import type { GraphClient } from '../src/meta/graph-client.js';
import type { WorkerMetrics } from '../src/metrics.js';

export interface ActivityDeps {
  config: Config;
  db: Db;
  log: Logger;
  graph: GraphClient;
  temporal: Client;
  metrics: WorkerMetrics;
}
