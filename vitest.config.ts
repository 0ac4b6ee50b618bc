import { defineConfig } from 'vitest/config';

// Each test file starts its own server on its own ports, so files run in parallel; media tests are CPU-bound
// (ffmpeg encoders, browsers) on a 2-core machine, hence a pool of two: more made timing-sensitive tests fail under load.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    globalSetup: ['test/helpers/globalSetup.ts'],
    setupFiles: ['test/helpers/failures.ts'],
    reporters: ['default'],
  },
});
