import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Against a real S3-compatible server: `npm run test:s3`.
    exclude: [...configDefaults.exclude, 'test/s3/**'],
    globalSetup: ['test/global-setup.ts'],
    // Temporal's native worker is happiest in a child process of its own.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    teardownTimeout: 60_000,
    reporters: ['default'],
  },
});
