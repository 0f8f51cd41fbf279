// `bundle`: writes the prebuilt workflow bundle (part of npm run build), so workers start without webpack.
import { writeFileSync } from 'node:fs';
import { bundleWorkflows, prebuiltBundlePath } from '../temporal/worker.js';

export async function writeWorkflowBundle(): Promise<string> {
  writeFileSync(prebuiltBundlePath, await bundleWorkflows());
  return prebuiltBundlePath;
}
