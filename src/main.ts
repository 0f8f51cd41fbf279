#!/usr/bin/env node
// The one entry point: `node dist/src/main.js <command>`. Each command is also an npm script.
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './logger.js';
import { startApi } from './commands/api.js';
import { writeWorkflowBundle } from './commands/bundle.js';
import { DevStartError, runDev } from './commands/dev.js';
import { runMigrations, setUpTemporal, type MigrateDirection } from './commands/migrate.js';
import { describeWebhookFields, runSelfCheck, webhookFieldsBlockingFailure } from './commands/selfcheck.js';
import { runReconcile } from './commands/reconcile.js';
import { runRekey } from './commands/rekey.js';
import type { RekeyCount } from './store/rekey.js';
import { parseEraseArgs, runErase } from './commands/erase.js';
import { startWorker } from './commands/worker.js';
import { SearchAttributesError } from './temporal/search-attributes.js';

const USAGE = `usage: waconnect <command>
  api                      the HTTP API (PORT, default 8000)
  worker                   the Temporal worker (TEMPORAL_TASK_QUEUE, default whatsapp)
  migrate [latest|rollback|rollback-all] [--skip-temporal]
                           PostgreSQL migrations, then the Temporal namespace's search attributes
  selfcheck                run one workflow end to end through the worker and PostgreSQL
  reconcile                one token schedule per active integration; remove orphans
  rekey                    re-encrypt every secret and schedule argument under the first keys
  erase --business <id> [--phone <number> | --bsuid <id>] [--wait]
                           erase a business's data, or one of its customers' (a worker runs it)
  dev                      everything on a laptop (npm start)
  bundle                   prebuild the workflow bundle (part of npm run build)`;

function onShutdownSignal(stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    void stop().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`error while stopping after ${signal}: ${(error as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const env = process.env;
  switch (command) {
    case 'api': {
      const config = loadConfig(env, 'api');
      const log = createLogger({ level: config.logLevel, name: 'api' });
      const api = await startApi(config, log);
      onShutdownSignal(() => api.close());
      return new Promise(() => undefined);
    }
    case 'worker': {
      const config = loadConfig(env, 'worker');
      const log = createLogger({ level: config.logLevel, name: 'worker' });
      const worker = await startWorker(config, log);
      onShutdownSignal(() => worker.shutdown());
      await worker.done;
      return 0;
    }
    case 'migrate': {
      const skipTemporal = rest.includes('--skip-temporal');
      const direction = (rest.find((arg) => !arg.startsWith('--')) ?? 'latest') as MigrateDirection;
      if (
        !['latest', 'rollback', 'rollback-all'].includes(direction) ||
        rest.some((a) => a.startsWith('--') && a !== '--skip-temporal')
      ) {
        process.stderr.write(`${USAGE}\n`);
        return 2;
      }
      const config = loadConfig(env, 'migrate');
      const log = createLogger({ level: config.logLevel, name: 'migrate' });
      await runMigrations(config.databaseUrl, direction, log);
      if (direction === 'latest' && !skipTemporal) await setUpTemporal(config, log);
      return 0;
    }
    case 'selfcheck': {
      const config = loadConfig(env, 'worker');
      const result = await runSelfCheck(config);
      process.stdout.write(
        `self check passed: worker ${result.workerIdentity} wrote to PostgreSQL at ${result.checkedAt}\n`,
      );
      process.stdout.write(`${describeWebhookFields(result.webhookFields)}\n`);
      const failure = webhookFieldsBlockingFailure(result.webhookFields);
      if (failure) process.stderr.write(`self check failed: ${failure}\n`);
      return failure ? 1 : 0;
    }
    case 'reconcile': {
      const config = loadConfig(env, 'reconcile');
      const report = await runReconcile(config);
      process.stdout.write(
        `reconcile: ${report.active} active integration(s); created ${report.created.length} schedule(s)${report.created.length ? ` (${report.created.join(', ')})` : ''}; removed ${report.removed.length}${report.removed.length ? ` (${report.removed.join(', ')})` : ''}; purged ${report.purged.stagedSecrets} staged secret(s)\n`,
      );
      return 0;
    }
    case 'rekey': {
      const config = loadConfig(env, 'reconcile');
      const report = await runRekey(config);
      const line = (what: string, c: RekeyCount) =>
        `  ${what}: ${
          Object.entries(c.before)
            .map(([key, n]) => `${n} under ${key}`)
            .join(', ') || 'none'
        }; rewritten ${c.rewritten}${c.changedMeanwhile ? `; ${c.changedMeanwhile} changed meanwhile (already under the first key)` : ''}\n`;
      process.stdout.write(
        `rekey: credentials under ${report.credentialsKey}, codec under ${report.codecKey}\n` +
          line('tokens', report.tokens) +
          line('registration PINs', report.pins) +
          line('staged secrets', report.stagedSecrets) +
          line('erasure targets', report.erasureTargets) +
          line('token schedules', report.schedules),
      );
      return 0;
    }
    case 'erase': {
      const args = parseEraseArgs(rest);
      if (typeof args === 'string') {
        process.stderr.write(`${args === 'usage' ? USAGE : args}\n`);
        return 2;
      }
      const config = loadConfig(env, 'erase');
      const row = await runErase(config, args, (started) =>
        process.stdout.write(`erasure ${started.id} (${started.scope}) accepted; a worker runs it\n`),
      );
      if (args.wait) process.stdout.write(`erasure ${row.id} done: ${JSON.stringify(row.counts)} row(s) deleted\n`);
      return 0;
    }
    case 'bundle':
      process.stdout.write(`workflow bundle written to ${await writeWorkflowBundle()}\n`);
      return 0;
    case 'dev':
      await runDev(env);
      return 0;
    default:
      process.stderr.write(`${USAGE}\n`);
      return command ? 2 : 0;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof ConfigError || error instanceof DevStartError || error instanceof SearchAttributesError) {
      process.stderr.write(`${error.message}\n`);
    } else {
      process.stderr.write(`fatal: ${(error as Error).stack ?? String(error)}\n`);
    }
    process.exit(1);
  },
);
