// Structured JSON logs (pino). Secrets are removed by configuration, so a careless log call
// cannot print a token, a code, a state or the app secret.
import pino, { type Logger } from 'pino';

export type { Logger };

/** Field names whose values never reach a log line, wherever they appear in the first levels. */
const REDACTED_KEYS = [
  'authorization',
  'cookie',
  'accessToken',
  'access_token',
  'token',
  'appSecret',
  'appSecrets',
  'app_secret',
  'client_secret',
  'secret',
  'password',
  'pin',
  'credentials',
  'fb_exchange_token',
  'input_token',
];

// `code` and `state` are secrets only as OAuth query parameters (elsewhere `code` is a Graph error code).
const redactPaths = [
  ...REDACTED_KEYS.flatMap((key) => [key, `*.${key}`, `*.*.${key}`, `req.headers.${key}`]),
  ...['code', 'state'].flatMap((key) => [`query.${key}`, `*.query.${key}`]),
];

export interface LoggerOptions {
  level?: string;
  /** Human-readable output (npm start on a terminal). */
  pretty?: boolean;
  name?: string;
  destination?: pino.DestinationStream;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const base: pino.LoggerOptions = {
    level: options.level ?? 'info',
    name: options.name,
    redact: { paths: redactPaths, censor: '[redacted]' },
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (options.destination) return pino(base, options.destination);
  if (options.pretty) {
    return pino({
      ...base,
      transport: {
        target: 'pino-pretty',
        options: { colorize: true, ignore: 'pid,hostname', translateTime: 'HH:MM:ss' },
      },
    });
  }
  return pino(base);
}
