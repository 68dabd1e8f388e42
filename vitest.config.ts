import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/kernel/**', 'node_modules/**'],
    globalSetup: ['test/setup/workers.ts', 'test/setup/namespaces.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration suites create namespaces and daemons; two cores, so keep file-level parallelism modest.
    maxWorkers: 2,
  },
});
