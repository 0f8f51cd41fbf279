// npm run bench:connect — time from Meta's redirect to our callback until our final redirect to the
// dashboard (the whole ConnectWhatsApp workflow against the sandbox), over N connects in a row.
import { answerDialog, followCallback, startConnect } from '../helpers/meta-flow.js';
import { median, percentile, startSystem } from './system.js';

const runs = Number(process.argv[2] ?? 20);
const system = await startSystem();
try {
  const times: number[] = [];
  for (let i = 0; i < runs + 2; i++) {
    const businessId = `bench-connect-${i}`;
    const callbackUrl = await answerDialog(
      await startConnect(system.apiUrl, businessId, system.secrets.AUTH_JWT_SECRET),
      { decision: 'approve' },
    );
    const started = performance.now();
    const landing = await followCallback(callbackUrl);
    const elapsed = performance.now() - started;
    if (landing.searchParams.get('success') !== 'true') throw new Error(`connect ${i} did not succeed: ${landing}`);
    if (i >= 2) times.push(elapsed); // the first two warm the worker's caches
  }
  const fmt = (ms: number) => `${ms.toFixed(0)} ms`;
  console.log(
    `callback → final redirect over ${runs} connects (sandbox as Meta; API and worker as separate processes)`,
  );
  console.log(
    `  median ${fmt(median(times))}, p90 ${fmt(percentile(times, 90))}, min ${fmt(Math.min(...times))}, max ${fmt(Math.max(...times))}`,
  );
} finally {
  await system.stop();
}
