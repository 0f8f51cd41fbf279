// The project's root folder, found from this file whether it runs from src/ or from dist/src/: the
// folder of our package.json (in the image, /app holds only package.json, node_modules and dist/).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function isOurPackage(dir: string): boolean {
  const file = join(dir, 'package.json');
  return existsSync(file) && (JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown }).name === 'waconnect';
}

function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!isOurPackage(dir)) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the project root (package.json)');
    dir = parent;
  }
  return dir;
}

export const projectRoot = findRoot();
export const dataDir = join(projectRoot, '.data');
