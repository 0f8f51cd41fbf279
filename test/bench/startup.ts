// npm run bench:startup — time from launching `npm start`'s process (dev) to GET /readyz answering
// 200: cold (empty data folder: PostgreSQL initdb, new Temporal database) and warm (same folder
// again). The Temporal CLI must already be built (it is, after one npm start or npm test).
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../../src/paths.js';

const runs = Number(process.argv[2] ?? 3);
const port = 8000;

async function startOnce(dataDir: string): Promise<number> {
  const started = performance.now();
  const env: NodeJS.ProcessEnv = { ...process.env, DEV_DATA_DIR: dataDir, PORT: String(port), LOG_LEVEL: 'warn' };
  for (const name of ['DATABASE_URL', 'TEMPORAL_ADDRESS', 'META_APP_ID']) delete env[name];
  const child = spawn(process.execPath, [join(projectRoot, 'dist/src/main.js'), 'dev'], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`dev exited early:\n${stderr}`);
      const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) return performance.now() - started;
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    child.kill('SIGINT');
    await exited;
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

const cold: number[] = [];
const warm: number[] = [];
for (let i = 0; i < runs; i++) {
  const dataDir = mkdtempSync(join(tmpdir(), 'waconnect-bench-startup-'));
  chmodSync(dataDir, 0o755); // the embedded PostgreSQL runs as its own user when we are root
  try {
    cold.push(await startOnce(dataDir));
    warm.push(await startOnce(dataDir));
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}
const fmt = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
console.log(`npm start to /readyz 200 over ${runs} runs`);
console.log(`  cold (empty data folder): median ${fmt(median(cold))}  [${cold.map(fmt).join(', ')}]`);
console.log(`  warm (data folder kept):  median ${fmt(median(warm))}  [${warm.map(fmt).join(', ')}]`);
