// `npm test` builds first; this skips the build when dist/ was built from exactly the sources there
// are now. The stamp is a hash of every build input's path and content (never of times), written only
// after a build that succeeded, so a clean clone, a changed file or a failed build always builds.
import { createHash } from 'node:crypto';
import { execSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const stampPath = join(root, 'dist', '.build-stamp');
const tsconfig = JSON.parse(readFileSync(join(root, 'tsconfig.json'), 'utf8'));
// What tsc compiles (the Meta sandbox package first), what the build copies (failure converter) and
// what the bundle pulls in. The sandbox's dashboard assets are read from its folder at run time.
const sandbox = 'packages/meta-sandbox';
const inputs = [
  ...tsconfig.include,
  'tsconfig.json',
  'package.json',
  'package-lock.json',
  `${sandbox}/src`,
  `${sandbox}/tsconfig.json`,
  `${sandbox}/package.json`,
];
const outputs = [
  'dist/src/main.js',
  'dist/workflow-bundle.js',
  'dist/src/temporal/failure-converter.cjs',
  `${sandbox}/dist/index.js`,
  `${sandbox}/dist/dashboard.js`,
];

function filesUnder(path) {
  const full = join(root, path);
  if (!existsSync(full)) return [];
  if (!statSync(full).isDirectory()) return [path];
  return readdirSync(full)
    .sort()
    .flatMap((name) => filesUnder(join(path, name)));
}

function inputsHash() {
  const hash = createHash('sha256');
  for (const file of inputs.flatMap(filesUnder)) {
    hash.update(`${file}\0`);
    hash.update(readFileSync(join(root, file)));
    hash.update('\0');
  }
  return hash.digest('hex');
}

const wanted = inputsHash();
const fresh =
  existsSync(stampPath) &&
  readFileSync(stampPath, 'utf8') === wanted &&
  outputs.every((file) => existsSync(join(root, file)));
if (fresh) {
  console.log('build is fresh (dist/ matches the sources): skipped');
} else {
  rmSync(stampPath, { force: true });
  execSync('npm run build --silent', { cwd: root, stdio: 'inherit' });
  // The sources as they were when the build started: an edit during the build makes the next run build.
  writeFileSync(stampPath, wanted);
}
