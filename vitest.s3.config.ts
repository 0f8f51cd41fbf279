// `npm run test:s3`: the media storage tests against a real S3-compatible server (SeaweedFS).
import { configDefaults, defineConfig } from 'vitest/config';
import base from './vitest.config.js';

export default defineConfig({
  test: { ...base.test, include: ['test/s3/**/*.test.ts'], exclude: configDefaults.exclude },
});
