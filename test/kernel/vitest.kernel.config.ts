import { defineConfig } from 'vitest/config';

// The kernel suite runs inside the VM (test/kernel/run-vm.sh): real module, real netlink. Files run
// one after another in a single fork (TCG has 2 slow vCPUs; worker start-up costs seconds there).
export default defineConfig({
  test: {
    include: ['test/kernel/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
    // hanging-process names whatever keeps a worker alive if a run does not end.
    reporters: ['default', 'hanging-process'],
  },
});
