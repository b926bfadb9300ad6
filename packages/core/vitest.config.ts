import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Kernel suites are CPU-bound; two workers match the machine's two cores.
    maxWorkers: 2,
    testTimeout: 60_000,
  },
});
