// npm run schemas: writes the AI brain's JSON Schemas from the zod schemas that parse its traffic.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../../src/paths.js';
import { brainSchemas } from '../../src/reply/contract-v2.js';

for (const [path, schema] of Object.entries(brainSchemas())) {
  writeFileSync(join(projectRoot, path), `${JSON.stringify(schema, null, 2)}\n`);
  console.log(`wrote ${path}`);
}
