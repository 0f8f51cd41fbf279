// npm run layout:production [-- --tls] — the production layout on this machine until Ctrl-C:
// PostgreSQL, the full Temporal server (its schema and namespace jobs first), migrate, two workers,
// two APIs behind a balancer, the sandbox as Meta. Ctrl-C (or SIGTERM) stops all of it.
// `-- --build-only` builds the Temporal server and schema tool if missing, and stops there.
import { projectRoot } from '../../src/paths.js';
import { startProductionLayout } from './production.js';
import { findTemporalServer } from './temporal-server.js';

const tls = process.argv.includes('--tls');
const log = (line: string) => process.stdout.write(`[layout] ${line}\n`);
if (process.argv.includes('--build-only')) {
  const binaries = await findTemporalServer(projectRoot, log);
  log(`Temporal server: ${binaries.server}; schema tool: ${binaries.sqlTool}`);
  process.exit(0);
}
const layout = await startProductionLayout({ tls, log, env: { LOG_LEVEL: 'info' } });
log(`API (through the balancer): ${layout.apiUrl}`);
for (const [name, port] of Object.entries(layout.apiPorts)) log(`  ${name}: http://127.0.0.1:${port}`);
log(`Temporal frontend: ${layout.temporal.address}${tls ? ' (client certificate required)' : ''}`);
if (layout.certificates) {
  log(`  certificates: ${layout.certificates.dir} (ca.pem, waconnect.pem, waconnect.key; server name temporal)`);
  log(
    `  temporal workflow list --address ${layout.temporal.address} --tls-ca-path ${layout.certificates.caCert} ` +
      `--tls-cert-path ${layout.certificates.clientCert} --tls-key-path ${layout.certificates.clientKey} --tls-server-name temporal`,
  );
}
log(`Meta sandbox: ${layout.sandbox.url}; logs in ${layout.dir}`);
log('Ctrl-C stops everything.');

let stopping = false;
const stop = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  log(`${signal}: stopping`);
  await layout.stop();
  log('stopped');
  process.exit(0);
};
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
