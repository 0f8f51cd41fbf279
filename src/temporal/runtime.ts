// The Temporal SDK's process-wide Runtime: its log lines go through our pino logger (so they are
// JSON and redacted like ours), and our commands own the shutdown signals.
import { Runtime, type Logger as SdkLogger, type LogLevel, type LogMetadata } from '@temporalio/worker';
import type { Logger } from '../logger.js';

let installed = false;

export function installRuntime(log: Logger, options: { metricsPort?: number } = {}): void {
  if (installed) return;
  installed = true;
  const sdkLog = log.child({ component: 'temporal-sdk' });
  const forward = (level: LogLevel, message: string, meta?: LogMetadata) => {
    const fields = { ...meta };
    switch (level) {
      case 'TRACE':
      case 'DEBUG':
        sdkLog.debug(fields, message);
        break;
      case 'INFO':
        sdkLog.info(fields, message);
        break;
      case 'WARN':
        sdkLog.warn(fields, message);
        break;
      default:
        sdkLog.error(fields, message);
    }
  };
  const logger: SdkLogger = {
    log: forward,
    trace: (message, meta) => forward('TRACE', message, meta),
    debug: (message, meta) => forward('DEBUG', message, meta),
    info: (message, meta) => forward('INFO', message, meta),
    warn: (message, meta) => forward('WARN', message, meta),
    error: (message, meta) => forward('ERROR', message, meta),
  };
  Runtime.install({
    logger,
    // Our commands handle SIGINT/SIGTERM and shut the worker down in order.
    shutdownSignals: [],
    telemetryOptions: {
      // The Rust core's own warnings (poll retries while the server is down...) join our JSON logs.
      logging: { filter: { core: 'WARN', other: 'ERROR' }, forward: {} },
      ...(options.metricsPort !== undefined
        ? { metrics: { prometheus: { bindAddress: `0.0.0.0:${options.metricsPort}` } } }
        : {}),
    },
  });
}
