// Certificates made for one run of the production layout with openssl: a CA, the Temporal
// server's certificate (frontend and internode, also its system worker's client certificate),
// a client certificate for our API and workers, and a second CA with a client certificate of its
// own, which the server must refuse. Keys are P-256, valid two days, written 0600.
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface LayoutCertificates {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  /** The name in the server's certificate that clients verify. */
  serverName: string;
  clientCert: string;
  clientKey: string;
  /** A client certificate from a CA the server does not trust. */
  strangerCert: string;
  strangerKey: string;
}

async function openssl(args: string[]): Promise<void> {
  await run('openssl', args, { timeout: 30_000 });
}

async function makeCa(dir: string, name: string): Promise<{ cert: string; key: string }> {
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}.key`);
  await openssl([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    '2',
    '-subj',
    `/CN=waconnect layout ${name}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return { cert, key };
}

async function makeLeaf(
  dir: string,
  name: string,
  ca: { cert: string; key: string },
  extensions: string,
): Promise<{ cert: string; key: string }> {
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, extensions);
  await openssl([
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    key,
    '-out',
    csr,
    '-subj',
    `/CN=${name}`,
  ]);
  await openssl([
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca.cert,
    '-CAkey',
    ca.key,
    '-CAcreateserial',
    '-out',
    cert,
    '-days',
    '2',
    '-extfile',
    ext,
  ]);
  return { cert, key };
}

const CLIENT_EXTENSIONS = 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n';

export async function makeLayoutCertificates(dir: string): Promise<LayoutCertificates> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const serverName = 'temporal';
  const ca = await makeCa(dir, 'ca');
  const server = await makeLeaf(
    dir,
    serverName,
    ca,
    // Internode traffic and the server's system worker present this certificate as a client too.
    `subjectAltName=DNS:${serverName},DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=critical,digitalSignature\n`,
  );
  const client = await makeLeaf(dir, 'waconnect', ca, CLIENT_EXTENSIONS);
  const strangerCa = await makeCa(dir, 'stranger-ca');
  const stranger = await makeLeaf(dir, 'stranger', strangerCa, CLIENT_EXTENSIONS);
  for (const key of [ca.key, server.key, client.key, strangerCa.key, stranger.key]) chmodSync(key, 0o600);
  return {
    dir,
    caCert: ca.cert,
    serverCert: server.cert,
    serverKey: server.key,
    serverName,
    clientCert: client.cert,
    clientKey: client.key,
    strangerCert: stranger.cert,
    strangerKey: stranger.key,
  };
}
