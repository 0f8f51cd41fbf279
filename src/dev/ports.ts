// Port checks for `npm start`, so a taken port is reported by number instead of as a stack trace.
import { createServer } from 'node:net';

function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Returns the names of the ports that are taken, e.g. ["PORT 8000 (the API)"]. */
export async function takenPorts(ports: Array<{ port: number; label: string }>): Promise<string[]> {
  const taken: string[] = [];
  for (const { port, label } of ports) {
    // Check both the loopback and the wildcard address: the API binds 0.0.0.0.
    if (!(await isPortFree(port, '127.0.0.1')) || !(await isPortFree(port, '0.0.0.0')))
      taken.push(`${port} (${label})`);
  }
  return taken;
}
